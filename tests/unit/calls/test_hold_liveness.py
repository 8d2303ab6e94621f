"""The gateway's liveness mark for [ctigw-hold]: Asterisk's own clock, stamped on every connect."""
import pytest

from gateway.ami.errors import AmiNotConnected
from gateway.calls.hold import HoldLiveness, liveness_variable, owner_token


class ConnectedAmi:
    """The AmiClient surface HoldLiveness uses: connected, on_connected, action."""

    def __init__(self, epoch="1796137145"):
        self.connected = True
        self.hooks = []
        self.epoch = epoch
        self.actions = []

    def on_connected(self, hook):
        self.hooks.append(hook)

    async def action(self, name, /, **fields):
        if not self.connected:
            raise AmiNotConnected("down")
        self.actions.append((name, fields))
        return {"Response": "Success", "Value": self.epoch} if name == "Getvar" else {"Response": "Success"}


async def test_every_connect_stamps_asterisks_epoch_and_the_hold_settings():
    ami = ConnectedAmi()
    liveness = HoldLiveness(ami, "gw-1.eu", grace=20, slice_seconds=5)
    [hook] = ami.hooks
    await hook()
    sets = {f["Variable"]: f["Value"] for name, f in ami.actions if name == "Setvar"}
    assert sets == {"CTIGW_LIVE_gw_1_eu": "1796137145", "CTIGW_HOLD_GRACE": "20", "CTIGW_HOLD_SLICE": "5"}
    assert "Channel" not in ami.actions[-1][1]  # a global, not a channel variable
    assert liveness.marks == 1


async def test_a_lost_connection_skips_the_mark_without_failing():
    ami = ConnectedAmi()
    liveness = HoldLiveness(ami, "gw1", grace=20, slice_seconds=5)
    ami.connected = False
    await ami.hooks[0]()
    assert liveness.marks == 0 and ami.actions == []


async def test_a_garbled_epoch_is_not_stamped():
    ami = ConnectedAmi(epoch="not a number")
    liveness = HoldLiveness(ami, "gw1", grace=20, slice_seconds=5)
    await ami.hooks[0]()
    assert liveness.marks == 0 and not [a for a in ami.actions if a[0] == "Setvar"]


def test_the_grace_must_outlast_two_slices_of_music():
    with pytest.raises(ValueError, match="twice the music slice"):
        HoldLiveness(ConnectedAmi(), "gw1", grace=8, slice_seconds=5)


def test_instance_names_become_dialplan_variable_names():
    assert owner_token("gw1") == "gw1" and owner_token("site-a/gw 2") == "site_a_gw_2"
    assert liveness_variable("gw1") == "CTIGW_LIVE_gw1"
