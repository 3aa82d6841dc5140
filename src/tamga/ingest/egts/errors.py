"""EGTS processing results and the one exception the EGTS codec raises."""

from __future__ import annotations

from enum import IntEnum


class ResultCode(IntEnum):
    """Processing result codes (PR of a RESPONSE packet, RST of a RECORD_RESPONSE).

    Numbers from the processing-result table of the EGTS specification (Order of the Ministry of Transport
    of Russia No. 285 of 31.07.2012, annex 6; the same table is A.14 of GOST R 56361-2015 / GOST 33472).
    """

    OK = 0
    IN_PROGRESS = 1
    UNS_PROTOCOL = 128
    DECRYPT_ERROR = 129
    PROC_DENIED = 130
    INC_HEADERFORM = 131
    INC_DATAFORM = 132
    UNS_TYPE = 133
    NOTEN_PARAMS = 134
    DBL_PROC = 135
    PROC_SRC_DENIED = 136
    HEADERCRC_ERROR = 137
    DATACRC_ERROR = 138
    INVDATALEN = 139
    ROUTE_NFOUND = 140
    ROUTE_CLOSED = 141
    ROUTE_DENIED = 142
    INVADDR = 143
    TTLEXPIRED = 144
    NO_ACK = 145
    OBJ_NFOUND = 146
    EVNT_NFOUND = 147
    SRVC_NFOUND = 148
    SRVC_DENIED = 149
    SRVC_UNKN = 150
    AUTH_DENIED = 151
    ALREADY_EXISTS = 152
    ID_NFOUND = 153
    INC_DATETIME = 154
    IO_ERROR = 155
    NO_RES_AVAIL = 156
    MODULE_FAULT = 157
    MODULE_PWR_FLT = 158
    MODULE_PROC_FLT = 159
    MODULE_SW_FLT = 160
    MODULE_FW_FLT = 161
    MODULE_IO_FLT = 162
    MODULE_MEM_FLT = 163
    TEST_FAILED = 164


class EgtsError(Exception):
    """A packet or stream the EGTS codec refuses, with the processing result to answer it with.

    `pid` is the packet identifier when the transport header was read and its checksum held, so the
    refusal can be answered with a RESPONSE to that packet; it is None when the header itself is at fault.
    """

    def __init__(self, result_code: ResultCode, reason: str, pid: int | None = None) -> None:
        super().__init__(f"EGTS_PC_{result_code.name} ({int(result_code)}): {reason}")
        self.result_code = result_code
        self.reason = reason
        self.pid = pid
