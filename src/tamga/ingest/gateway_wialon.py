"""The Wialon IPS gateway: devices over TCP, versions 1.1 and 2.0 (Gurtam).

A session opens with a login, `#L#imei;password` (1.1) or `#L#2.0;imei;password;crc` (2.0): the IMEI
must be the device id of a seal registered for Wialon IPS and not decommissioned, and the password must
match its argon2 credential. The answer is `#AL#1`, else `#AL#0` (unknown device; also a wrong password
in 1.1) or `#AL#01` (wrong password, 2.0) or `#AL#10` (checksum, 2.0), and a refused connection is
closed. The login fixes the connection's version: every later message is checked as that version
(a 2.0 session cannot slip in a message without its CRC).

Then SD, D, B (black box) and P, answered as the protocol says (`#ASD#1`, `#AD#1`, `#AB#n`, `#AP#`, or
the code of the field at fault). The fixes of one read from the socket go to the process's group-commit
writer (`ingest.writer`), stored with other connections' in one transaction, and the answers are
written only after its commit. Wialon IPS numbers no message, so a fix is keyed by the
device and its time (record number 0): a black box sent twice is stored once. Anything before a login
ends the connection unanswered; so does a message whose `imei` prefix names another device.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

from tamga.ingest.service import Device, Report, authenticate_device
from tamga.ingest.tcp import Connection, Cut, TcpGateway
from tamga.ingest.wialon.codec import (
    LOGIN_ACCEPTED,
    LOGIN_REFUSED,
    LOGIN_WRONG_PASSWORD,
    Version,
    WialonError,
    WialonMessage,
    answer,
    decode_message,
    split_lines,
    to_fixes,
)
from tamga.kit.clock import utcnow

log = logging.getLogger(__name__)

PROTOCOL: Final = "wialon_ips"


class _Session:
    def __init__(self, gateway: WialonGateway, conn: Connection) -> None:
        self.gateway, self.conn = gateway, conn
        self.device: Device | None = None
        self.version: Version | None = None

    async def run(self) -> None:
        buffer = b""
        while True:
            data = await self.conn.read()
            if not data:
                return
            buffer += data
            self.conn.check_buffered(len(buffer))
            try:
                lines, buffer = split_lines(buffer)
            except WialonError as error:
                raise Cut("flood", error.reason) from None
            self.conn.check_message_size(len(buffer))
            if lines:
                self.conn.count_messages(len(lines))
                await self._handle(lines)

    async def _login(self, message: WialonMessage) -> str:
        assert message.imei is not None
        async with self.gateway.ingest.db.session() as session:
            device, known = await authenticate_device(session, message.imei, message.password, PROTOCOL)
        if device is None:
            log.info("wialon: login of %s refused (%s)", message.imei, "password" if known else "unknown")
            raise _Refused(LOGIN_WRONG_PASSWORD if known and message.version == "2.0" else LOGIN_REFUSED)
        if self.device is not None and self.device.seal_id != device.seal_id:
            raise _Refused(LOGIN_REFUSED)  # one connection speaks for one device
        self.device, self.version = device, message.version
        return LOGIN_ACCEPTED

    async def _handle(self, lines: Sequence[str]) -> None:
        """Answer the messages of one read: store their fixes, commit, then answer in order."""
        answers: list[str] = []
        reports: list[Report] = []
        errors = 0
        cut: Cut | None = None
        received_at = utcnow()
        for line in lines:
            self.conn.check_message_size(len(line))
            try:
                message = decode_message(line, self.version)
            except WialonError as error:
                if self.device is None:
                    answers.append(error.answer or "")
                    cut = Cut("refused" if line.startswith("#L#") else "garbage", error.reason)
                    break
                errors += 1
                answers.append(error.answer or "")
                continue
            if message.type == "L":
                try:
                    answers.append(await self._login(message))
                except _Refused as refused:
                    answers.append(refused.answer)
                    cut = Cut("refused", "login refused")
                    break
                continue
            if self.device is None:
                cut = Cut("refused", f"#{message.type}# before a login")
                break
            if message.imei is not None and message.imei != self.device.device_id:
                cut = Cut(
                    "refused", f"a message for device {message.imei} on {self.device.device_id}'s connection"
                )
                break
            if message.type != "P":
                fixes = to_fixes(message, self.device.device_id, received_at=received_at)
                reports.extend(Report(self.device, fix, PROTOCOL) for fix in fixes)
            answers.append(answer(message))
        if reports:
            outcome = await self.gateway.ingest.persist(reports)
            self.conn.stats.stored += len(outcome.stored)
            self.conn.stats.duplicates += outcome.duplicates
        await self.conn.send("".join(answers).encode("ascii"))
        if cut is not None:
            raise cut
        self.conn.count_decode_errors(errors)


class _Refused(Exception):
    def __init__(self, answer: str) -> None:
        super().__init__(answer.strip())
        self.answer = answer


class WialonGateway(TcpGateway):
    """Wialon IPS devices over TCP."""

    name = "wialon"

    async def serve(self, conn: Connection) -> None:
        await _Session(self, conn).run()
