"""The whole API through the client openapi-python-client generates from
openapi.json, unmodified (tests/clients/run.sh generates it and runs this).

    python flow.py BASE_URL ADMIN_EMAIL

Every step asserts the status and the key fields of the parsed answer: the
answer must parse into the model the document names for that status, and no
model may hold a field the document does not declare (`additional_properties`
stays empty), so nothing falls back to raw JSON.
"""

import sys
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from roster_client import AuthenticatedClient, Client
from roster_client.api.accounts import accounts_create, accounts_update
from roster_client.api.admin import admin_users_list, admin_users_update
from roster_client.api.api_keys import api_keys_create, api_keys_list
from roster_client.api.audit import audit_list
from roster_client.api.auth import auth_me, auth_register
from roster_client.api.catalog import catalog_classes, catalog_items, catalog_servers
from roster_client.api.characters import (
    characters_create,
    characters_get,
    characters_list,
    characters_update,
)
from roster_client.api.progressions import progressions_set, teams_progressions
from roster_client.api.teams import teams_create
from roster_client.models import (
    CharactersListSort,
    CreateAccountRequest,
    CreateCharacterRequest,
    CreateKeyRequest,
    CreateTeamRequest,
    ErrorEnvelope,
    ErrorInfoCode,
    EnvelopeAccountDto,
    EnvelopeAdminUserDto,
    EnvelopeAuthSessionDto,
    EnvelopeCharacterDto,
    EnvelopeCreatedKeyDto,
    EnvelopeListApiKeyDto,
    EnvelopeListMemberProgressDto,
    EnvelopeListNamedDto,
    EnvelopeProgressionDto,
    EnvelopeTeamDto,
    EnvelopeUserDto,
    CursorEnvelopeAdminUserDto,
    CursorEnvelopeAuditEntryDto,
    CursorEnvelopeItemDto,
    ItemKindDto,
    PageEnvelopeCharacterDto,
    RegisterRequest,
    RoleDto,
    SetProgressionRequest,
    StatusDto,
    UpdateAccountRequest,
    UpdateCharacterRequest,
    UpdateUserRequest,
)
from roster_client.types import Response, Unset

T = TypeVar("T")
PASSWORD = "correct horse battery staple"


def no_undeclared_fields(value: Any, where: str) -> None:
    """Every model in the answer, nested ones included, declares all it got."""
    extra = getattr(value, "additional_properties", None)
    if extra is not None:
        assert extra == {}, f"{where}: fields the document does not declare: {sorted(extra)}"
        for name in type(value).__attrs_attrs__:
            if name.name != "additional_properties":
                no_undeclared_fields(getattr(value, name.name), f"{where}.{name.name}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            no_undeclared_fields(item, f"{where}[{i}]")


def expect(step: str, response: Response[Any], status: int, model: type[T]) -> T:
    """The answer of `step` has `status` and parsed into `model`."""
    assert response.status_code == status, (
        f"{step}: expected {status}, got {response.status_code}: {response.content!r}"
    )
    parsed = response.parsed
    assert isinstance(parsed, model), f"{step}: parsed as {type(parsed).__name__}, not {model.__name__}"
    no_undeclared_fields(parsed, step)
    success = getattr(parsed, "success")
    assert success is (model is not ErrorEnvelope), f"{step}: success is {success!r}"
    print(f"python: {step}: {status} {model.__name__}")
    return parsed


def register(anonymous: Client, email: str, name: str) -> EnvelopeAuthSessionDto:
    body = RegisterRequest(email=email, password=PASSWORD, display_name=name)
    answer = expect(
        f"register {email}",
        auth_register.sync_detailed(client=anonymous, body=body),
        201,
        EnvelopeAuthSessionDto,
    )
    assert answer.data.user.email == email
    assert answer.data.access_token and answer.data.refresh_token
    return answer


def main(base: str, admin_email: str) -> None:
    anonymous = Client(base_url=base, raise_on_unexpected_status=True)

    # register → who am I (an administrator: ROSTER_ADMIN_EMAILS names the e-mail)
    session = register(anonymous, admin_email, "Python Admin")
    me_id = session.data.user.id
    client = AuthenticatedClient(
        base_url=base, token=session.data.access_token, raise_on_unexpected_status=True
    )
    me = expect("me", auth_me.sync_detailed(client=client), 200, EnvelopeUserDto)
    assert me.data.id == me_id and me.data.role == RoleDto.ADMIN

    # the catalog (public)
    classes = expect("catalog classes", catalog_classes.sync_detailed(client=anonymous), 200, EnvelopeListNamedDto)
    servers = expect("catalog servers", catalog_servers.sync_detailed(client=anonymous), 200, EnvelopeListNamedDto)
    items = expect(
        "catalog items",
        catalog_items.sync_detailed(client=anonymous, kind=ItemKindDto.QUEST, per_page=5),
        200,
        CursorEnvelopeItemDto,
    )
    assert classes.data and servers.data and items.data
    assert all(item.kind == ItemKindDto.QUEST for item in items.data)
    assert isinstance(items.pagination.next_cursor, (str, type(None)))
    class_id, server_id, item = classes.data[0].id, servers.data[0].id, items.data[0]

    # an account with notes, then `notes: null` clears them
    account = expect(
        "create account",
        accounts_create.sync_detailed(
            client=client, body=CreateAccountRequest(name="Main", notes="alts go here")
        ),
        201,
        EnvelopeAccountDto,
    ).data
    assert account.name == "Main" and account.notes == "alts go here" and account.character_count == 0
    cleared = expect(
        "clear account notes",
        accounts_update.sync_detailed(account.id, client=client, body=UpdateAccountRequest(notes=None)),
        200,
        EnvelopeAccountDto,
    ).data
    assert cleared.id == account.id and cleared.notes is None and cleared.name == "Main"
    assert UpdateAccountRequest(notes=None).to_dict() == {"notes": None}

    # characters, and a filtered, sorted list
    def create_character(name: str, level: int) -> UUID:
        body = CreateCharacterRequest(
            name=name, level=level, class_id=class_id, server_id=server_id, account_id=account.id
        )
        made = expect(f"create character {name}", characters_create.sync_detailed(client=client, body=body), 201, EnvelopeCharacterDto).data
        assert made.name == name and made.level == level and made.account.id == account.id
        assert made.class_id == class_id and made.server_id == server_id and made.class_name
        return made.id

    hero = create_character("Aldric", 60)
    create_character("Brenna", 20)
    create_character("Cyra", 45)
    listed = expect(
        "list characters levelMin=40 sort=-level",
        characters_list.sync_detailed(client=client, level_min=40, sort=CharactersListSort.LEVEL_DESC, per_page=10),
        200,
        PageEnvelopeCharacterDto,
    )
    assert [c.name for c in listed.data] == ["Aldric", "Cyra"], [c.name for c in listed.data]
    assert listed.pagination.total == 2 and listed.pagination.page == 1 and listed.pagination.per_page == 10

    # PATCH with If-Match: the GET's ETag, then the same (now stale) ETag → 412
    got = characters_get.sync_detailed(hero, client=client)
    expect("get character", got, 200, EnvelopeCharacterDto)
    etag = got.headers["etag"]
    assert etag
    patched = characters_update.sync_detailed(
        hero, client=client, body=UpdateCharacterRequest(level=61), if_match=etag
    )
    assert expect("patch character If-Match", patched, 200, EnvelopeCharacterDto).data.level == 61
    assert patched.headers["etag"] and patched.headers["etag"] != etag
    stale = expect(
        "patch character stale If-Match",
        characters_update.sync_detailed(hero, client=client, body=UpdateCharacterRequest(level=62), if_match=etag),
        412,
        ErrorEnvelope,
    )
    assert stale.error.code == ErrorInfoCode.PRECONDITION_FAILED and stale.error.message
    again = expect("get character after 412", characters_get.sync_detailed(hero, client=client), 200, EnvelopeCharacterDto)
    assert again.data.level == 61

    # a progression on a catalog item
    progression = expect(
        "set progression",
        progressions_set.sync_detailed(hero, item.id, client=client, body=SetProgressionRequest(status=StatusDto.DONE)),
        200,
        EnvelopeProgressionDto,
    ).data
    assert progression.item_id == item.id and progression.status == StatusDto.DONE
    assert isinstance(progression.completed_at, datetime)

    # a team, and where its members stand on the item
    team = expect(
        "create team",
        teams_create.sync_detailed(client=client, body=CreateTeamRequest(name="Raid", member_ids=[hero])),
        201,
        EnvelopeTeamDto,
    ).data
    assert team.name == "Raid" and [m.id for m in team.members] == [hero]
    assert team.description is None
    view = expect(
        "team progression view",
        teams_progressions.sync_detailed(team.id, item.id, client=client),
        200,
        EnvelopeListMemberProgressDto,
    ).data
    assert len(view) == 1 and view[0].member.id == hero and view[0].status == StatusDto.DONE
    assert isinstance(view[0].completed_at, datetime)

    # an API key: the one-time secret is in the typed answer; then the list
    created = expect(
        "create api key",
        api_keys_create.sync_detailed(client=client, body=CreateKeyRequest(name="ci")),
        201,
        EnvelopeCreatedKeyDto,
    ).data
    assert created.key.startswith("rk_") and created.name == "ci" and created.expires_at is None
    keys = expect("list api keys", api_keys_list.sync_detailed(client=client), 200, EnvelopeListApiKeyDto).data
    assert [k.id for k in keys] == [created.id] and keys[0].last_used_at is None and keys[0].expires_at is None
    # the secret works as a credential
    with_key = AuthenticatedClient(base_url=base, token=created.key, raise_on_unexpected_status=True)
    by_key = expect("get character with the api key", characters_get.sync_detailed(hero, client=with_key), 200, EnvelopeCharacterDto)
    assert by_key.data.id == hero

    # the audit trail
    audit = expect("audit", audit_list.sync_detailed(client=client, per_page=100), 200, CursorEnvelopeAuditEntryDto)
    actions = {entry.action for entry in audit.data}
    assert audit.data and all(entry.actor_id == me_id for entry in audit.data), actions
    for resource in (account.id, hero, team.id):
        assert any(entry.resource_id == str(resource) for entry in audit.data), (resource, actions)

    # admin: list users, make another user an administrator
    other = register(anonymous, "python-other@example.com", "Python Other").data.user
    users = expect("admin list users", admin_users_list.sync_detailed(client=client, search="python-"), 200, CursorEnvelopeAdminUserDto)
    by_email = {u.email: u for u in users.data}
    assert by_email[admin_email].role == RoleDto.ADMIN and by_email[other.email].role == RoleDto.USER
    assert not by_email[other.email].disabled
    promoted = expect(
        "admin patch user",
        admin_users_update.sync_detailed(other.id, client=client, body=UpdateUserRequest(role=RoleDto.ADMIN)),
        200,
        EnvelopeAdminUserDto,
    ).data
    assert promoted.id == other.id and promoted.role == RoleDto.ADMIN and not promoted.disabled
    assert isinstance(promoted.last_login_at, (datetime, type(None), Unset))

    print("python: the whole flow passed")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
