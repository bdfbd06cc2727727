"""Email-to-ticket parsing: raw messages as mail clients and servers really send them."""

import base64
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_common.errors import InvalidArgument
from crm_support.domain.inbound_email import (
    MAX_MIME_PARTS,
    Attachment,
    InboundEmail,
    ThreadHint,
    html_to_text,
    parse_message,
    strip_quoted_reply,
    subject_with_token,
    thread_key,
    ticket_number_in,
)


def crlf(text: str) -> bytes:
    """A message as it travels over SMTP: CRLF line ends, ASCII (8-bit bytes go in
    separately where a test wants them)."""
    return text.replace("\n", "\r\n").encode("ascii")


def invalid_field(raw: bytes, **kwargs: int) -> str:
    with pytest.raises(InvalidArgument) as error:
        parse_message(raw, **kwargs)
    assert len(error.value.violations) == 1
    return error.value.violations[0].field


# --- Plain messages and headers --------------------------------------------------------

SIMPLE = crlf(
    """Return-Path: <ada@example.com>
Received: from mail.example.com (mail.example.com [192.0.2.1])
\tby mx.helpdesk.test with ESMTPS id 4TXYZ; Tue, 02 Jan 2024 09:15:02 +0000
From: Ada Lovelace <Ada.Lovelace@Example.COM>
To: Support <SUPPORT@helpdesk.test>, "Doe, Jane" <jane@helpdesk.test>
Cc: bob@example.org, Support <support@helpdesk.test>
Subject: Printer   on fire
Date: Tue, 02 Jan 2024 10:15:00 +0100
Message-ID: < CAFoo.123@mail.example.com >
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 7bit

Hello,

the printer on floor 3 is on fire.

Ada
"""
)


def test_simple_text_message() -> None:
    mail = parse_message(SIMPLE)
    assert mail == InboundEmail(
        message_id="CAFoo.123@mail.example.com",
        message_id_synthetic=False,
        in_reply_to=(),
        references=(),
        from_address="ada.lovelace@example.com",
        from_name="Ada Lovelace",
        to_addresses=("support@helpdesk.test", "jane@helpdesk.test"),
        cc_addresses=("bob@example.org", "support@helpdesk.test"),
        subject="Printer on fire",
        date=datetime(2024, 1, 2, 9, 15, tzinfo=UTC),
        body_text="Hello,\n\nthe printer on floor 3 is on fire.\n\nAda",
        attachments=(),
        auto_submitted=False,
    )


def test_lf_only_and_minimal_messages_parse() -> None:
    mail = parse_message(b"From: ann@example.com\nSubject: hi\n\nbody\n")
    assert (mail.from_address, mail.from_name, mail.subject) == ("ann@example.com", "", "hi")
    assert mail.body_text == "body" and mail.date is None and mail.message_id_synthetic
    no_sender = parse_message(b"Subject: only a subject\n\n")
    assert no_sender.from_address is None and no_sender.body_text == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Tue, 02 Jan 2024 10:15:00 +0100", datetime(2024, 1, 2, 9, 15, tzinfo=UTC)),
        ("2 Jan 2024 10:15:00 -0000", datetime(2024, 1, 2, 10, 15, tzinfo=UTC)),
        ("Tue, 2 Jan 2024 04:15:00 EST", datetime(2024, 1, 2, 9, 15, tzinfo=UTC)),
        ("yesterday, around noon", None),
        ("Tue, 31 Feb 2024 10:15:00 +0100", None),
        ("", None),
    ],
)
def test_date_is_utc_or_none(value: str, expected: datetime | None) -> None:
    mail = parse_message(crlf(f"From: a@example.com\nDate: {value}\n\nx\n"))
    assert mail.date == expected
    assert mail.date is None or mail.date.tzinfo is UTC


def test_in_reply_to_and_references_with_folding_whitespace() -> None:
    raw = crlf(
        """From: ann@example.com
Subject: Re: [#1042] Printer on fire
Message-ID: <reply.9@example.com>
In-Reply-To: <ticket-1042.7@helpdesk.test> (Support's message of Tue, 2 Jan 2024)
References: <CAFoo.123@mail.example.com>
 <ticket-1042.3@helpdesk.test>\t<ticket-1042.5@
 helpdesk.test>
\t<CAFoo.123@mail.example.com>
  <ticket-1042.7@helpdesk.test>

Still burning.
"""
    )
    mail = parse_message(raw)
    assert mail.in_reply_to == ("ticket-1042.7@helpdesk.test",)
    assert mail.references == (
        "CAFoo.123@mail.example.com",
        "ticket-1042.3@helpdesk.test",
        "ticket-1042.5@helpdesk.test",
        "ticket-1042.7@helpdesk.test",
    )
    assert thread_key(mail) == ThreadHint(
        message_ids=(
            "ticket-1042.7@helpdesk.test",
            "ticket-1042.5@helpdesk.test",
            "ticket-1042.3@helpdesk.test",
            "CAFoo.123@mail.example.com",
        ),
        ticket_number=1042,
    )


def test_ids_without_brackets_and_repeated_references_headers() -> None:
    raw = crlf(
        "From: a@example.com\nMessage-ID: bare.1@example.com\n"
        "In-Reply-To: x.1@example.com\nReferences: <r.1@example.com>\n"
        "References: <r.2@example.com>\n\nx\n"
    )
    mail = parse_message(raw)
    assert mail.message_id == "bare.1@example.com" and not mail.message_id_synthetic
    assert mail.in_reply_to == ("x.1@example.com",)
    assert mail.references == ("r.1@example.com", "r.2@example.com")


def test_thread_key_offers_only_the_newest_references() -> None:
    refs = " ".join(f"<r{n}@example.com>" for n in range(500))
    mail = parse_message(crlf(f"From: a@example.com\nReferences: {refs}\n\nx\n"))
    hint = thread_key(mail)
    assert len(mail.references) == 500
    assert hint.message_ids[:2] == ("r499@example.com", "r498@example.com")
    assert len(hint.message_ids) == 50 and hint.ticket_number is None


# --- Message-ID missing: a synthetic, stable one ----------------------------------------

NO_ID = crlf(
    """From: ann@example.com
To: support@helpdesk.test
Subject: no id
Date: Tue, 02 Jan 2024 10:15:00 +0100

Some clients and scripts send no Message-ID.
"""
)


def test_missing_message_id_gets_a_stable_synthetic_one() -> None:
    first = parse_message(NO_ID)
    assert first.message_id_synthetic
    assert first.message_id.endswith("@synthetic.invalid")
    assert parse_message(NO_ID).message_id == first.message_id
    # Delivered again by another route: other trace headers, LF line ends, an mbox
    # envelope line. Still the same mail.
    redelivered = (
        b"From MAILER-DAEMON Wed Jan  3 08:00:00 2024\n"
        b"Received: from backup-mx.helpdesk.test by mx2; Wed, 3 Jan 2024 08:00:00 +0000\n"
        b"Delivered-To: support@helpdesk.test\n" + NO_ID.replace(b"\r\n", b"\n")
    )
    assert parse_message(redelivered).message_id == first.message_id
    other = NO_ID.replace(b"Some clients", b"Other clients")
    assert parse_message(other).message_id != first.message_id


def test_empty_message_id_header_counts_as_missing() -> None:
    mail = parse_message(crlf("From: a@example.com\nMessage-ID: <  >\n\nx\n"))
    assert mail.message_id_synthetic and mail.message_id.endswith("@synthetic.invalid")


# --- Bodies: alternatives, HTML, charsets, broken MIME -------------------------------------

ALTERNATIVE = crlf(
    """From: ann@example.com
Subject: alt
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="000000000000a1b2c3"

--000000000000a1b2c3
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Hi team,
the invoice is attached =E2=80=93 thanks!

--000000000000a1b2c3
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<div dir=3D"ltr">Hi team,<br>the <b>HTML</b> version</div>

--000000000000a1b2c3--
"""
)


def test_multipart_alternative_prefers_plain_text() -> None:
    mail = parse_message(ALTERNATIVE)
    assert mail.body_text == "Hi team,\nthe invoice is attached \u2013 thanks!"
    assert mail.attachments == ()


def test_alternative_with_an_empty_plain_part_uses_the_html() -> None:
    raw = ALTERNATIVE.replace(b"Hi team,\r\nthe invoice is attached =E2=80=93 thanks!\r\n", b"\r\n")
    assert parse_message(raw).body_text == "Hi team,\nthe HTML version"


HTML_ONLY = crlf(
    """From: Shop <noreply@shop.example>
Subject: Your order
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<!DOCTYPE html>
<html><head><title>Order mail</title>
<style type="text/css">p { color: red; }</style>
<script>alert("hi")</script></head>
<body>
  <h1>Order&nbsp;#123</h1>
  <p>Dear   customer,<br>
     your order   ships <i>today</i>.</p>
  <ul><li>1 &times; Widget</li><li>2 &times; Gadget &amp; more</li></ul>
  <table><tr><td>Total:</td><td>&euro;&#160;42</td></tr></table>
  <!-- tracking comment -->
  <p>Questions? Write to &lt;help@shop.example&gt;</p>
</body></html>
"""
)


def test_html_only_is_converted_to_readable_text() -> None:
    assert parse_message(HTML_ONLY).body_text == (
        "Order #123\n\n"
        "Dear customer,\nyour order ships today.\n\n"
        "- 1 \u00d7 Widget\n- 2 \u00d7 Gadget & more\n\n"
        "Total: \u20ac 42\n\n"
        "Questions? Write to <help@shop.example>"
    )


def test_html_to_text_keeps_preformatted_text_and_survives_bad_markup() -> None:
    assert html_to_text("<p>Log:</p><pre>  a\n    b</pre>after") == "Log:\n\n  a\n    b\n\nafter"
    assert html_to_text("<head><style>x{}</style><body>text") == "text"
    # html.parser raises on unknown marked sections; the text must survive anyway.
    assert html_to_text("<p>before<![bogus[ x ]]>after</p>") == "before after"


ENCODED_WORDS = crlf(
    """From: =?ISO-8859-1?Q?J=FCrgen_M=FCller?= <j.mueller@example.de>
To: =?UTF-8?B?xYF1a2FzeiDFu8OzxYLEhw==?= <lukasz@example.pl>,
 =?iso-8859-1?q?Ren=E9_Dupont?= <rene@example.fr>
Subject: =?UTF-8?B?UmU6IERydWNrZXIgZ2VodCBuaWNodCDigJMg?=
 =?UTF-8?Q?dringend_=F0=9F=94=A5?=
Message-ID: <enc@example.de>

x
"""
)


def test_rfc2047_subject_and_names_are_decoded() -> None:
    mail = parse_message(ENCODED_WORDS)
    assert mail.subject == "Re: Drucker geht nicht \u2013 dringend \U0001f525"
    assert (mail.from_name, mail.from_address) == (
        "J\u00fcrgen M\u00fcller",
        "j.mueller@example.de",
    )
    assert mail.to_addresses == ("lukasz@example.pl", "rene@example.fr")


def test_iso_8859_1_base64_name() -> None:
    name = base64.b64encode("Ren\u00e9 Dupont".encode("latin-1")).decode()
    mail = parse_message(crlf(f"From: =?ISO-8859-1?B?{name}?= <rene@example.fr>\n\nx\n"))
    assert mail.from_name == "Ren\u00e9 Dupont"


def text_mail(charset_param: str, body: bytes) -> bytes:
    return (
        crlf(f"From: a@example.com\nContent-Type: text/plain{charset_param}\n")
        + b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        + body
    )


@pytest.mark.parametrize(
    ("charset_param", "body", "expected"),
    [
        ("; charset=us-ascii", "Gr\u00fc\u00dfe".encode(), "Gr\u00fc\u00dfe"),  # UTF-8, mislabelled
        ("; charset=utf-8", "Gr\u00fc\u00dfe".encode("latin-1"), "Gr\u00fc\u00dfe"),
        ("; charset=iso-8859-1", "Gr\u00fc\u00dfe".encode(), "Gr\u00fc\u00dfe"),
        ("", "Gr\u00fc\u00dfe".encode("cp1252"), "Gr\u00fc\u00dfe"),  # undeclared
        ("; charset=x-no-such-charset", "\u20ac 5".encode(), "\u20ac 5"),
        ('; charset="utf-8\\"junk"', b"plain", "plain"),
        ("; charset=koi8-r", "\u041f\u0440\u0438\u0432\u0435\u0442".encode("koi8-r"), "Привет"),
    ],
)
def test_wrong_and_missing_charsets_still_give_text(
    charset_param: str, body: bytes, expected: str
) -> None:
    assert parse_message(text_mail(charset_param, body)).body_text == expected


def test_eight_bit_garbage_never_raises() -> None:
    body = bytes(range(256)) * 4
    mail = parse_message(text_mail("; charset=utf-8", body))
    assert mail.body_text  # replaced, not lost
    mail.body_text.encode("utf-8")
    assert "\x00" not in mail.body_text  # PostgreSQL text refuses NUL


def test_raw_eight_bit_headers_are_decoded() -> None:
    raw = (
        b"From: " + "J\u00fcrgen".encode() + b" <j@example.de>\r\n"
        b"Subject: Best\xe4tigung " + "\u00fcber".encode() + b"\r\n\r\nx\r\n"
    )
    mail = parse_message(raw)
    assert mail.from_name == "J\u00fcrgen"
    assert mail.subject == "Best\u00e4tigung \u00fcber"


BROKEN_BOUNDARY = crlf(
    """From: ann@example.com
Subject: broken
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="declared-but-never-used"

--actual-boundary-42
Content-Type: text/plain; charset=utf-8

The text the sender meant.
--actual-boundary-42
Content-Type: application/pdf; name="scan.pdf"
Content-Disposition: attachment; filename="scan.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--actual-boundary-42--
"""
)


def test_broken_boundary_still_yields_text_and_attachments() -> None:
    mail = parse_message(BROKEN_BOUNDARY)
    assert mail.body_text == "The text the sender meant."
    assert [(a.filename, a.size) for a in mail.attachments] == [("scan.pdf", 9)]


def test_multipart_without_boundary_or_with_unterminated_parts_yields_text() -> None:
    no_boundary = crlf("From: a@example.com\nContent-Type: multipart/mixed\n\nJust some text.\n")
    assert parse_message(no_boundary).body_text == "Just some text."
    unterminated = crlf(
        "From: a@example.com\nContent-Type: multipart/alternative; boundary=b1\n\n"
        "--b1\nContent-Type: text/plain\n\nCut off in the middle"
    )
    assert parse_message(unterminated).body_text == "Cut off in the middle"


# --- Attachments ----------------------------------------------------------------------------

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" * 20
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3


def with_attachments() -> bytes:
    message = EmailMessage()
    message["From"] = "Ann <ann@example.com>"
    message["To"] = "support@helpdesk.test"
    message["Subject"] = "Invoice"
    message["Message-ID"] = "<att@example.com>"
    message.set_content("Please see the invoice.\n")
    message.add_alternative(
        '<p>Please see the invoice.</p><img src="cid:logo.1@example.com">', subtype="html"
    )
    html = message.get_payload()[1]
    html.add_related(
        PNG, "image", "png", cid="<logo.1@example.com>", filename="logo.png", disposition="inline"
    )
    message.add_attachment(PDF, "application", "pdf", filename="Rechnung M\u00e4rz 2024.pdf")
    return bytes(message)


def test_attachment_metadata_but_never_content() -> None:
    mail = parse_message(with_attachments())
    assert mail.body_text == "Please see the invoice."
    assert mail.attachments == (
        Attachment(
            filename="logo.png",
            content_type="image/png",
            size=len(PNG),
            content_id="logo.1@example.com",
            inline=True,
        ),
        Attachment(
            filename="Rechnung M\u00e4rz 2024.pdf",
            content_type="application/pdf",
            size=len(PDF),
            content_id=None,
            inline=False,
        ),
    )


def test_attachment_names_in_legacy_forms() -> None:
    raw = crlf(
        """From: a@example.com
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

See files.
--b
Content-Type: application/octet-stream; name="=?UTF-8?B?QmlsZCDDvC5kYXQ=?="

AAAA
--b
Content-Type: application/msword
Content-Disposition: attachment; filename="/home/ann/Desktop/letter.doc"

x
--b
Content-Type: text/plain; name="log.txt"

this is a file, not the body
--b
Content-Type: image/gif
Content-ID: <spacer>

GIF89a
--b--
"""
    )
    mail = parse_message(raw)
    assert mail.body_text == "See files."
    assert [(a.filename, a.content_type, a.inline, a.content_id) for a in mail.attachments] == [
        ("Bild \u00fc.dat", "application/octet-stream", False, None),
        ("letter.doc", "application/msword", False, None),
        ("log.txt", "text/plain", False, None),
        ("", "image/gif", True, "spacer"),
    ]


FORWARDED = crlf(
    """From: Agent Smith <smith@example.com>
To: support@helpdesk.test
Subject: Fwd: complaint
Message-ID: <fwd.1@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/mixed; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8

Forwarding the customer's complaint, see attached.
--inner
Content-Type: text/csv; name="orders.csv"
Content-Disposition: attachment; filename="orders.csv"

id,total
1,42
--inner--

--outer
Content-Type: message/rfc822
Content-Disposition: attachment

From: Customer <customer@example.net>
Subject: I want a refund / now
Message-ID: <orig.1@example.net>
Content-Type: multipart/mixed; boundary="orig"

--orig
Content-Type: text/plain

The widget broke after one day.
--orig
Content-Type: image/jpeg; name="photo.jpg"
Content-Disposition: attachment; filename="photo.jpg"
Content-Transfer-Encoding: base64

/9j/4AAQSkZJRgABAQ==
--orig--

--outer--
"""
)


def test_nested_mixed_with_forwarded_message() -> None:
    mail = parse_message(FORWARDED)
    assert mail.body_text == "Forwarding the customer's complaint, see attached."
    # The forwarded mail is one attachment; its own photo travels inside it.
    names = [(a.filename, a.content_type) for a in mail.attachments]
    assert names == [
        ("orders.csv", "text/csv"),
        ("I want a refund _ now.eml", "message/rfc822"),
    ]
    assert mail.attachments[0].size == len(
        b"id,total\r\n1,42"
    )  # the last CRLF belongs to the boundary
    assert mail.attachments[1].size > 200
    assert mail.message_id == "fwd.1@example.com" and mail.from_address == "smith@example.com"


def test_forward_as_attachment_only_takes_the_forwarded_text() -> None:
    raw = FORWARDED.replace(b"Forwarding the customer's complaint, see attached.", b"")
    assert parse_message(raw).body_text == "The widget broke after one day."


# --- Auto-submitted mail --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "auto"),
    [
        ("Auto-Submitted: auto-replied", True),
        ("Auto-Submitted: auto-generated; owner-email=it@example.com", True),
        ("Auto-Submitted: no", False),
        ("Auto-Submitted: No ", False),
        ("Precedence: bulk", True),
        ("Precedence: junk", True),
        ("Precedence: list", True),
        ("Precedence: first-class", False),
        ("X-Autoreply: yes", True),
        ("X-Autorespond: Out of office", True),
        ("Return-Path: <>", True),
        ("Return-Path: <ann@example.com>", False),
        ("Content-Type: multipart/report; report-type=delivery-status; boundary=x", True),
        ("X-Mailer: Outlook", False),
    ],
)
def test_auto_replies_are_detected(header: str, auto: bool) -> None:
    raw = crlf(f"From: ann@example.com\nSubject: Out of office\n{header}\n\nI am away.\n")
    assert parse_message(raw).auto_submitted is auto


# --- Refused input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"", b"   \r\n\r\n", b"hello world", b"\x00\x01\x02garbage\xff", b"<html>hi</html>"],
)
def test_empty_or_non_email_input_is_invalid(raw: bytes) -> None:
    assert invalid_field(raw) == "raw_message"


def test_oversized_input_is_invalid() -> None:
    assert invalid_field(SIMPLE, max_bytes=len(SIMPLE) - 1) == "raw_message"
    assert parse_message(SIMPLE, max_bytes=len(SIMPLE)).subject == "Printer on fire"


def test_absurdly_deep_mime_nesting_is_invalid_not_a_crash() -> None:
    raw = b"From: a@example.com\n" + b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (n, n) for n in range(3000)
    )
    assert invalid_field(raw + b"Content-Type: text/plain\n\nhi\n") == "raw_message"


def test_mail_of_countless_tiny_parts_is_invalid() -> None:
    # Fits in 25 MB at 100 000 parts, and would cost minutes of parsing.
    parts = b"--b\r\n\r\nx\r\n" * (MAX_MIME_PARTS + 1)
    raw = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + parts
    assert invalid_field(raw + b"--b--\r\n") == "raw_message"
    broken = raw.replace(b"boundary=b", b"boundary=other")  # salvage must not either
    assert parse_message(broken).body_text.startswith("--b")


def test_many_dash_lines_that_are_no_boundaries_parse() -> None:
    sql = b"-- comment\r\nSELECT 1;\r\n" * (MAX_MIME_PARTS + 1)
    raw = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    raw += b"--b\r\nContent-Type: text/plain\r\n\r\n" + sql + b"--b--\r\n"
    assert parse_message(raw).body_text.startswith("-- comment")


def test_moderately_deep_nesting_parses() -> None:
    depth = 60
    raw = b"From: a@example.com\n" + b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (n, n) for n in range(depth)
    )
    mail = parse_message(raw + b"Content-Type: text/plain\n\nhi\n")
    assert mail.from_address == "a@example.com"


# --- Quoted replies ---------------------------------------------------------------------------

GMAIL = """Thanks, that fixed it!

Ann

On Tue, Jan 2, 2024 at 10:15 AM Helpdesk Support <support@helpdesk.test>
wrote:

> Please restart the spooler.
>
> On Mon, Jan 1, 2024 at 9:00 AM Ann <ann@example.com> wrote:
>> My printer is on fire.
"""

OUTLOOK = """Hi,

still not working after the restart.

Regards
Ann

________________________________
From: Helpdesk Support <support@helpdesk.test>
Sent: Tuesday, January 2, 2024 10:15 AM
To: Ann Example <ann@example.com>
Subject: RE: [#1042] Printer on fire

Please restart the spooler.
"""

OUTLOOK_ORIGINAL = """Works now.

-----Original Message-----
From: Helpdesk Support [mailto:support@helpdesk.test]
Sent: Tuesday, January 2, 2024 10:15 AM
Subject: RE: Printer

Please restart the spooler.
"""

GERMAN_THUNDERBIRD = """Danke, jetzt geht es wieder.

Am 02.01.2024 um 10:15 schrieb Helpdesk Support:
> Bitte starten Sie den Druckerspooler neu.
"""

GERMAN_GMAIL_WRAPPED = """Danke!

Am Di., 2. Jan. 2024 um 10:15 Uhr schrieb Helpdesk Support <
support@helpdesk.test>:

> Bitte neu starten.
"""

GERMAN_OUTLOOK = """Hallo,

leider immer noch kaputt.

Von: Helpdesk Support <support@helpdesk.test>
Gesendet: Dienstag, 2. Januar 2024 10:15
An: Ann Example <ann@example.com>
Betreff: AW: Drucker

Bitte neu starten.
"""

SIGNATURE = """The export fails with error 500.

-- 
Ann Example
Head of Accounting | Example Corp
+49 30 1234567
"""  # noqa: W291 - "-- " with its trailing space is the delimiter

INTERLEAVED = """On Tue, Jan 2, 2024 at 10:15 AM Support <support@helpdesk.test> wrote:
> Which model is it?

LaserJet 4000.

> Is it plugged in?

Yes.
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GMAIL, "Thanks, that fixed it!\n\nAnn"),
        (OUTLOOK, "Hi,\n\nstill not working after the restart.\n\nRegards\nAnn"),
        (OUTLOOK_ORIGINAL, "Works now."),
        (GERMAN_THUNDERBIRD, "Danke, jetzt geht es wieder."),
        (GERMAN_GMAIL_WRAPPED, "Danke!"),
        (GERMAN_OUTLOOK, "Hallo,\n\nleider immer noch kaputt."),
        (SIGNATURE, "The export fails with error 500."),
        (INTERLEAVED, "LaserJet 4000.\n\nYes."),
        ("No quotes at all.\nOn my side everything wrote fine.", None),
        ("Line one\r\nLine two\r\n", "Line one\nLine two"),
    ],
)
def test_strip_quoted_reply(text: str, expected: str | None) -> None:
    assert strip_quoted_reply(text) == (expected if expected is not None else text.strip())


def test_strip_quoted_reply_is_conservative() -> None:
    # Only a signature: keep it rather than return nothing.
    assert strip_quoted_reply("-- \nAnn Example") == "-- \nAnn Example"
    # Everything under a reply header at the top: keep the unquoted text.
    assert (
        strip_quoted_reply("On Mon, Ann wrote:\nplease help") == "On Mon, Ann wrote:\nplease help"
    )
    # Nothing but quotes: nothing of the sender's own to keep, so keep it all.
    assert strip_quoted_reply("> old\n> older") == "> old\n> older"
    assert strip_quoted_reply("  \n") == ""


@given(st.text(alphabet=st.sampled_from("ab >-:\n_FromSent"), max_size=200))
def test_strip_quoted_reply_never_empties_unquoted_text(text: str) -> None:
    lines = text.replace("\r", "\n").split("\n")
    has_own_text = any(line.strip() and not line.lstrip().startswith(">") for line in lines)
    if has_own_text:
        assert strip_quoted_reply(text)


# --- Ticket token ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("[#1042] Printer on fire", 1042),
        ("Re: AW: Fwd: Printer on fire [#1042]", 1042),
        ("RE:[#7]x", 7),
        ("Order [#0042] status", 42),
        ("Printer on fire", None),
        ("[#] [1042] #1042 [# 1042]", None),
        ("[#1234567890123] too long", None),
        ("[#\u0661\u0662] not ASCII digits", None),
        ("", None),
    ],
)
def test_ticket_number_in(subject: str, number: int | None) -> None:
    assert ticket_number_in(subject) == number


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Printer on fire", "Printer on fire [#1042]"),
        ("Re: Printer on fire", "Re: Printer on fire [#1042]"),
        ("[#1042] Printer on fire", "[#1042] Printer on fire"),
        ("Re:  Printer  [#1042]", "Re: Printer [#1042]"),
        ("Printer [#1042] on fire [#1042]", "Printer on fire [#1042]"),
        ("Printer [#99] on fire", "Printer on fire [#1042]"),
        ("", "[#1042]"),
    ],
)
def test_subject_with_token_adds_it_exactly_once(subject: str, expected: str) -> None:
    assert subject_with_token(subject, 1042) == expected
    assert subject_with_token(expected, 1042) == expected
    assert ticket_number_in(expected) == 1042


def test_subject_with_token_rejects_numbers_the_token_cannot_carry() -> None:
    for number in (-1, 10**12):
        with pytest.raises(ValueError):
            subject_with_token("x", number)


@given(st.text(max_size=60), st.integers(min_value=0, max_value=10**12 - 1))
def test_subject_with_token_is_idempotent(subject: str, number: int) -> None:
    tokened = subject_with_token(subject, number)
    assert subject_with_token(tokened, number) == tokened
    assert ticket_number_in(tokened) == number
    assert tokened.count(f"[#{number}]") == 1


# --- Whatever arrives: InvalidArgument or a usable result ----------------------------------------


def assert_usable(mail: InboundEmail) -> None:
    """Every text can be stored (no NUL) and sent (valid UTF-8)."""
    texts = [
        mail.message_id,
        *mail.in_reply_to,
        *mail.references,
        mail.from_address or "",
        mail.from_name,
        *mail.to_addresses,
        *mail.cc_addresses,
        mail.subject,
        mail.body_text,
        *(a.filename for a in mail.attachments),
        *(a.content_type for a in mail.attachments),
        *(a.content_id or "" for a in mail.attachments),
    ]
    for text in texts:
        assert "\x00" not in text
        text.encode("utf-8")
    assert mail.message_id
    assert mail.date is None or mail.date.tzinfo is UTC
    assert all(a.size >= 0 for a in mail.attachments)


def parse_or_invalid(raw: bytes) -> None:
    try:
        mail = parse_message(raw)
    except InvalidArgument as error:
        assert {v.field for v in error.violations} == {"raw_message"}
    else:
        assert_usable(mail)
        strip_quoted_reply(mail.body_text)
        thread_key(mail)


@settings(max_examples=300)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_parse_or_are_invalid(raw: bytes) -> None:
    parse_or_invalid(raw)


HEADER_NAMES = st.sampled_from(
    [
        "From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
        "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Content-ID",
        "MIME-Version", "Auto-Submitted", "Precedence", "Return-Path", "X-Autoreply",
    ]
)  # fmt: skip
HEADER_VALUES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "multipart/mixed; boundary=b",
            'multipart/alternative; boundary="b"',
            "text/plain; charset=x-unknown",
            "text/html; charset=utf-16",
            "message/rfc822",
            "base64",
            "quoted-printable",
            "x-uuencode",
            "attachment; filename*=utf-8''%FF%FE",
            "=?utf-8?B?////?=",
            "=?x-bogus?Q?=FF?= <a@b>",
            '"unterminated <a@b',
            "group:;",
            "<>",
            "<a@b> <c@d",
            "Mon, 99 Foo 99999 99:99:99 +9999",
        ]
    ),
)
BODIES = st.one_of(
    st.binary(max_size=400),
    st.sampled_from(
        [
            b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n",
            b"--b\nContent-Type: text/html\n\n<p>x<![x[\n--b\n",
            b"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nbody\r\n--b--",
            b"begin 644 x\n#0V%T\n`\nend\n",
            b"=\xff=ZZ\n",
        ]
    ),
)


@settings(max_examples=300)
@given(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=8), BODIES)
def test_arbitrary_headers_parse_or_are_invalid(
    headers: list[tuple[str, str]], body: bytes
) -> None:
    head = b"".join(
        name.encode() + b": " + value.encode("utf-8", "surrogatepass") + b"\r\n"
        for name, value in headers
    )
    parse_or_invalid(head + b"\r\n" + body)


@given(st.text(max_size=300))
def test_html_to_text_never_raises(markup: str) -> None:
    html_to_text(markup).encode("utf-8", "surrogatepass")
