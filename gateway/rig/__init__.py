"""The local rig: a real Asterisk 22 and pjsua2 test phones, for the trial and the tests.

- `provision`     builds the Debian sid chroot with Debian's Asterisk (`ctigw rig provision`)
- `asterisk`      `AsteriskRig`: renders telephony_conf/ for one instance, starts/stops it
- `phones`        `PhoneBank`: callers on the carrier trunk and agent phones, from asyncio
- `phone_worker`  the pjsua2 process behind `PhoneBank` (JSON lines on stdin/stdout)
- `ami_probe`     a tiny raw AMI reader for the rig's own checks and tests
"""
