"""People other services know only by an email address, e.g. a helpdesk ticket's
requester: the person the contacts service makes of them."""

from crm_contacts.domain.contact_points import NAME_MAX, EmailAddress, normalise_email
from crm_contacts.domain.model import PersonDetails


def requester_details(address: str, name: str) -> PersonDetails:
    """A person with the address and the name the sender gave, else the address's
    local part as given name: what mail clients show for an unknown sender."""
    given, family = split_name(name)
    if not given and not family:
        given = address.partition("@")[0]
    return PersonDetails(
        given_name=given[:NAME_MAX],
        family_name=family[:NAME_MAX],
        email_addresses=(EmailAddress(normalise_email(address)),),
    )


def split_name(name: str) -> tuple[str, str]:
    """(given names, family name) of a display name: "Ada Lovelace", "Lovelace, Ada"
    (the directory form Outlook sends) and single names ("Ada", "王小明")."""
    name = " ".join(name.split()).strip("\"' ")
    family, comma, given = name.partition(",")
    if comma and family.strip() and given.strip() and "," not in given:
        return given.strip(), family.strip()
    *given_names, last = " ".join(name.replace(",", " ").split()).split(" ")
    return (" ".join(given_names), last) if given_names else (last, "")
