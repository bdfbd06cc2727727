"""CSV records from bytes that arrive in chunks of any size.

A chunk may end in the middle of a line, of a quoted field spanning lines, or
of a UTF-8 character. The `csv` module does the parsing (quoting rules are
subtle and it has them right); this module only decides when enough text has
arrived for it: lines are handed over complete, and a record still open when
the lines run out is taken back and handed over again once more arrive.
"""

import codecs
import csv
from collections import deque
from dataclasses import dataclass

from crm_common.errors import InvalidArgument

FIELD = "csv_data"
# More than any sane record, and the most one may hold in memory while incomplete.
MAX_RECORD_CHARS = 1024 * 1024


@dataclass(frozen=True)
class MalformedRecord:
    """A record the csv module rejected (bad quoting, NUL, oversized field)."""

    description: str


Record = list[str] | MalformedRecord


class _NeedMore(Exception):
    """The lines that arrived so far end inside a record."""


class _Lines:
    """The iterator csv.reader pulls lines from: whatever has arrived so far.

    It remembers the lines of the record being read, so that a record cut
    off by the end of the arrived text can be put back and read again whole.
    """

    def __init__(self) -> None:
        self.queue: deque[str] = deque()
        self.taken: list[str] = []
        self.final = False

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        if not self.queue:
            if self.final:
                raise StopIteration
            raise _NeedMore
        line = self.queue.popleft()
        self.taken.append(line)
        return line

    def record_done(self) -> None:
        self.taken.clear()

    def put_back(self) -> None:
        if sum(map(len, self.taken)) > MAX_RECORD_CHARS:
            raise InvalidArgument.single(
                FIELD, f"a record is longer than {MAX_RECORD_CHARS} characters (unclosed quote?)"
            )
        self.queue.extendleft(reversed(self.taken))
        self.taken.clear()


class CsvChunkReader:
    """Feed it chunks, get back the records they complete, in order."""

    def __init__(self) -> None:
        # utf-8-sig drops the byte-order mark spreadsheet programs write.
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._consumed = 0  # bytes decoded so far, for error messages
        self._partial = ""  # the text after the last line break
        self._lines = _Lines()
        # strict: a quote in the wrong place is an error, not silently kept.
        self._reader = csv.reader(self._lines, strict=True)

    def feed(self, chunk: bytes) -> list[Record]:
        # Splitting at "\n" only: csv.reader takes the end of each string it
        # is given as a line end, so a string must never end elsewhere.
        lines = (self._partial + self._decode(chunk, final=False)).split("\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_RECORD_CHARS:
            raise InvalidArgument.single(
                FIELD, f"a line is longer than {MAX_RECORD_CHARS} characters (no line breaks?)"
            )
        self._lines.queue.extend(line + "\n" for line in lines)
        return self._drain()

    def close(self) -> list[Record]:
        """The records left once the last chunk has arrived."""
        tail = self._partial + self._decode(b"", final=True)
        self._partial = ""
        if tail:
            self._lines.queue.append(tail)
        self._lines.final = True
        return self._drain()

    def _decode(self, chunk: bytes, *, final: bool) -> str:
        try:
            text = self._decoder.decode(chunk, final)
        except UnicodeDecodeError as error:
            pending = len(self._decoder.getstate()[0])
            offset = self._consumed - pending + error.start
            raise InvalidArgument.single(
                FIELD, f"is not valid UTF-8 (byte {offset} of the CSV text)"
            ) from error
        self._consumed += len(chunk)
        return text

    def _drain(self) -> list[Record]:
        records: list[Record] = []
        while True:
            try:
                cells = next(self._reader)
            except _NeedMore:
                self._lines.put_back()
                return records
            except StopIteration:
                return records
            except csv.Error as error:
                records.append(MalformedRecord(f"malformed CSV: {error}"))
            else:
                records.append(cells)
            self._lines.record_done()
