"""AMI (Asterisk Manager Interface) client: a Twisted protocol with an asyncio-facing API.

    client = AmiClient("127.0.0.1", 5038, "ctigw", secret)
    client.on("Hangup", on_hangup)
    client.on_connected(resync)
    client.start()
    await client.wait_connected(10)
    await client.action("Redirect", Channel=ch, Context="ctigw-connect", Exten="1001", Priority=1)

Knows nothing about calls, customers or agents.
"""
from gateway.ami.client import AmiClient
from gateway.ami.errors import (AmiActionError, AmiError, AmiFrameTooLarge, AmiLineTooLong, AmiLoginError,
                                AmiNotConnected, AmiOversizeError, AmiTimeout)
from gateway.ami.frames import AmiFrameParser
from gateway.ami.message import AmiMessage

__all__ = [
    "AmiClient", "AmiMessage", "AmiFrameParser",
    "AmiError", "AmiActionError", "AmiTimeout", "AmiNotConnected", "AmiLoginError",
    "AmiOversizeError", "AmiLineTooLong", "AmiFrameTooLarge",
]
