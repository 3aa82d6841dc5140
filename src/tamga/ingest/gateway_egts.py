"""The EGTS gateway: terminals over TCP (GOST R 56360 / GOST 33472, Order No. 285).

A session:

1. The terminal sends an AUTH record with TERM_IDENTITY. Its IMEI, else its TID (in decimal), must be
   the device id of a seal registered for EGTS and not decommissioned. The record is confirmed with
   RECORD_RESPONSE and the AUTH service's RESULT_CODE follows: EGTS_PC_OK, or EGTS_PC_AUTH_DENIED and the
   connection is closed. EGTS devices are authenticated by their identity, as TERM_IDENTITY does: the
   codec decodes no AUTH_INFO (login and password) subrecord, so none is checked; that is why an EGTS
   identity can only open a seal registered for EGTS.
2. TELEDATA records: their POS_DATA (with EXT_POS_DATA, sensors and STATE_DATA read through the seal's
   device profile) become fixes; those of one read from the socket go to the process's group-commit
   writer (`ingest.writer`), which stores them with other connections' in one transaction. Each packet
   is answered with a RESPONSE whose RECORD_RESPONSEs confirm its records only after that commit: a
   record confirmed to the terminal is durable. A record already stored (a retransmission) is confirmed OK and
   stored nothing. Before authentication a record is refused with AUTH_DENIED and the connection closed;
   a record naming another object (OID) than the authenticated terminal with PROC_SRC_DENIED; records of
   other services with SRVC_NFOUND. A packet of plain position records alone (one POS_DATA per TELEDATA
   record: nearly every packet) is decoded straight into columns (`codec.decode_positions`) and stored
   from them; it is answered exactly as the general path would answer it.
3. A packet the codec refuses is answered with the codec's processing result (DATACRC_ERROR,
   INVDATALEN...) for its PID; a header the codec refuses (HEADERCRC_ERROR, UNS_PROTOCOL...) is answered
   for the PID the header claims, if it has one, and the connection is closed, since the stream cannot be
   resynchronised after it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Final

from tamga.ingest.egts.codec import (
    PacketType,
    decode_positions,
    encode_ok_response,
    encode_packet,
    encode_record,
    encode_response,
    records_to_fixes,
    split_frames,
)
from tamga.ingest.egts.codec import decode_packet as decode_egts_packet
from tamga.ingest.egts.errors import EgtsError, ResultCode
from tamga.ingest.egts.subrecords import (
    SERVICE_AUTH,
    SERVICE_TELEDATA,
    RawSubrecord,
    TermIdentity,
)
from tamga.ingest.service import BlockReport, Device, Report, identify_device
from tamga.ingest.tcp import Connection, Cut, TcpGateway

log = logging.getLogger(__name__)

PROTOCOL: Final = "egts"
SR_RESULT_CODE: Final = 9  # EGTS_SR_RESULT_CODE of the AUTH service: RCD (1 byte)


class _Session:
    """One terminal connection: its identity once authenticated, and the server's own PID and RN."""

    def __init__(self, gateway: EgtsGateway, conn: Connection) -> None:
        self.gateway, self.conn = gateway, conn
        self.device: Device | None = None
        self.terminal_id: int | None = None
        self._pid = 0
        self._record_number = 0

    def _next_pid(self) -> int:
        pid, self._pid = self._pid, (self._pid + 1) & 0xFFFF
        return pid

    def _response(self, pid: int, result: int, confirmations: Sequence[tuple[int, int, int]]) -> bytes:
        first = self._record_number
        self._record_number = (first + len(confirmations)) & 0xFFFF
        return encode_response(pid, result, confirmations, self._next_pid(), first_record_number=first)

    def _ok_response(self, pid: int, record_numbers: Sequence[int]) -> bytes:
        """`_response` confirming TELEDATA records that all went well."""
        first = self._record_number
        self._record_number = (first + len(record_numbers)) & 0xFFFF
        return encode_ok_response(
            pid, record_numbers, SERVICE_TELEDATA, self._next_pid(), first_record_number=first
        )

    def _result_code(self, code: int) -> bytes:
        """An APPDATA packet with the AUTH service's RESULT_CODE: the outcome of authentication."""
        number, self._record_number = self._record_number, (self._record_number + 1) & 0xFFFF
        record = encode_record(
            number, SERVICE_AUTH, [RawSubrecord(SR_RESULT_CODE, bytes([code]))], from_device=False
        )
        return encode_packet(self._next_pid(), PacketType.APPDATA, record)

    async def run(self) -> None:
        buffer = b""
        while True:
            data = await self.conn.read()
            if not data:
                return
            buffer += data
            self.conn.check_buffered(len(buffer))
            while True:
                try:
                    frames, buffer = split_frames(buffer)
                except EgtsError as error:
                    await self._refuse_stream(error, buffer)
                    raise Cut("garbage", str(error)) from None
                if len(buffer) >= 7:  # a frame under way announces its length: refuse it early
                    self.conn.check_message_size(buffer[3] + (buffer[5] | buffer[6] << 8) + 2)
                if not frames:
                    break
                self.conn.count_messages(len(frames))
                await self._handle(frames)

    async def _refuse_stream(self, error: EgtsError, buffer: bytes) -> None:
        # After a header fault the PID field is the best guess of what to answer; without one, nothing.
        pid = (
            error.pid if error.pid is not None else (buffer[7] | buffer[8] << 8 if len(buffer) >= 9 else None)
        )
        self.conn.stats.decode_errors += 1
        if pid is not None:
            await self.conn.send(self._response(pid, error.result_code, []))

    async def _authenticate(self, identity: TermIdentity | None) -> int:
        if identity is None:
            return ResultCode.OK if self.device is not None else ResultCode.AUTH_DENIED
        names = [identity.imei or "", str(identity.terminal_id)]
        async with self.gateway.ingest.db.session() as session:
            device = await identify_device(session, names, PROTOCOL)
        if device is None:
            log.info("egts: unknown terminal TID %s IMEI %s refused", identity.terminal_id, identity.imei)
            return ResultCode.AUTH_DENIED
        if self.device is not None and self.device.seal_id != device.seal_id:
            return ResultCode.AUTH_DENIED  # one connection speaks for one terminal
        self.device, self.terminal_id = device, identity.terminal_id
        return ResultCode.OK

    async def _handle(self, frames: Sequence[bytes]) -> None:
        """Answer the packets of one read: store their fixes, commit, then confirm in order."""
        replies: list[bytes] = []
        items: list[Report | BlockReport] = []  # what the read reported, in order
        errors = 0
        refused = False
        for frame in frames:
            device = self.device
            if device is not None:
                # Plain position records (nearly every packet once authenticated): decoded straight into
                # columns, confirmed as the general path below would confirm them.
                positions = decode_positions(frame, self.terminal_id, device.device_id)
                if positions is not None:
                    pid, block = positions
                    items.append(BlockReport(device, block, PROTOCOL))
                    replies.append(self._ok_response(pid, block.record_id))
                    continue
            try:
                packet = decode_egts_packet(frame)
            except EgtsError as error:
                errors += 1
                replies.append(self._response(error.pid or 0, error.result_code, []))
                continue
            if packet.packet_type == PacketType.RESPONSE:
                continue  # the terminal acknowledging our RESULT_CODE
            confirmations: list[tuple[int, int, int]] = []
            accepted = []
            after: list[bytes] = []
            for record in packet.records:
                service = record.source_service
                if service == SERVICE_AUTH:
                    identity = next((s for s in record.subrecords if isinstance(s, TermIdentity)), None)
                    result = await self._authenticate(identity)
                    confirmations.append((record.number, result, service))
                    if identity is not None or result != ResultCode.OK:
                        after.append(self._result_code(result))
                    if result != ResultCode.OK:
                        refused = True
                        break
                elif self.device is None:
                    confirmations.append((record.number, ResultCode.AUTH_DENIED, service))
                    refused = True
                    break
                elif service != SERVICE_TELEDATA:
                    confirmations.append((record.number, ResultCode.SRVC_NFOUND, service))
                elif record.object_id is not None and record.object_id != self.terminal_id:
                    confirmations.append((record.number, ResultCode.PROC_SRC_DENIED, service))
                else:
                    accepted.append(record)
                    confirmations.append((record.number, ResultCode.OK, service))
            if accepted and self.device is not None:
                if len(accepted) != len(packet.records):
                    packet = dataclasses.replace(packet, records=tuple(accepted))
                device = self.device
                items.extend(
                    Report(device, fix, PROTOCOL) for fix in records_to_fixes(packet, device.device_id)
                )
            replies.append(self._response(packet.pid, ResultCode.OK, confirmations))
            replies.extend(after)
            if refused:
                break
        if items:
            outcome = await self.gateway.ingest.persist(items)
            self.conn.stats.stored += len(outcome.stored)
            self.conn.stats.duplicates += outcome.duplicates
        await self.conn.send(b"".join(replies))
        if refused:
            raise Cut("refused", "terminal not authenticated")
        self.conn.count_decode_errors(errors)


class EgtsGateway(TcpGateway):
    """EGTS terminals over TCP."""

    name = "egts"

    async def serve(self, conn: Connection) -> None:
        await _Session(self, conn).run()
