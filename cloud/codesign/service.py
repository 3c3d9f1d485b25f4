"""Configurations as shared, revisioned documents: create, revise, read, check.

Customers see and edit their own configurations; coordinators (the network's engineers) all of
them. Every revision stores the full values, what changed against the previous one, and the
validation result, so a quote can only be made from a revision that was valid when written.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from cloud.auth import service as auth_service
from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.codesign.configure import (
    Allowed,
    InvalidConfiguration,
    Validation,
    allowed_values,
    validate,
    work_breakdown,
)
from cloud.codesign.families import ProductFamily
from cloud.codesign.models import (
    AllowedRead,
    CheckResult,
    Configuration,
    ConfigurationCreate,
    ConfigurationDuplicate,
    ConfigurationRead,
    ConfigurationRevision,
    ProblemRead,
    RevisionCreate,
    RevisionRead,
)
from cloud.exceptions import Conflict, InvalidInput, NotFound, PermissionDenied

_LOGGER = logging.getLogger(__name__)
Families = Mapping[str, ProductFamily]


def get_family(*, families: Families, family_id: str) -> ProductFamily:
    family = families.get(family_id)
    if family is None:
        raise NotFound(f"product family {family_id!r} does not exist")
    return family


def _require_codesigner(actor: Actor) -> None:
    require_role(actor, Role.COORDINATOR, Role.CUSTOMER)


def configurations_query(actor: Actor) -> Select[Configuration]:
    """Configurations ``actor`` may see: a customer's own, everything for coordinators."""
    _require_codesigner(actor)
    query = select(Configuration)
    if actor.role is Role.CUSTOMER:
        query = query.where(Configuration.customer_id == actor.customer_id)
    return query


def get_configuration_row(
    *, session: Session, actor: Actor, configuration_id: str
) -> Configuration:
    query = configurations_query(actor).where(Configuration.id == configuration_id)
    row = session.scalars(query).first()
    if row is None:
        raise NotFound(f"configuration {configuration_id!r} does not exist")
    return row


def get_revision(
    *, session: Session, configuration: Configuration, number: int
) -> ConfigurationRevision:
    query = select(ConfigurationRevision).where(
        ConfigurationRevision.configuration_id == configuration.id,
        ConfigurationRevision.number == number,
    )
    row = session.scalars(query).first()
    if row is None:
        raise NotFound(f"configuration {configuration.id!r} has no revision {number}")
    return row


def _customer_of(session: Session, actor: Actor, spec: ConfigurationCreate) -> str:
    if actor.role is Role.CUSTOMER:
        if spec.customer_id not in (None, actor.customer_id):
            raise PermissionDenied("a customer configures for themselves only")
        assert actor.customer_id is not None
        return actor.customer_id
    if spec.customer_id is None:
        raise InvalidInput("say for which customer (customer_id) the configuration is")
    if not auth_service.is_known_customer(session=session, customer_id=spec.customer_id):
        raise InvalidInput(
            f"customer_id: no customer {spec.customer_id!r} is known to the network "
            "(a customer is known once it has a key or an account)"
        )
    return spec.customer_id


def create_configuration(
    *, session: Session, actor: Actor, families: Families, spec: ConfigurationCreate
) -> Configuration:
    _require_codesigner(actor)
    family = get_family(families=families, family_id=spec.family_id)
    configuration = Configuration(
        id=f"cfg-{secrets.token_hex(6)}",
        family_id=family.id,
        customer_id=_customer_of(session, actor, spec),
        title=spec.title,
        current_revision=1,
    )
    session.add(configuration)
    _add_revision(session, configuration, family, actor, 1, {}, dict(spec.values), spec.comment)
    session.flush()
    return configuration


def duplicate_configuration(
    *,
    session: Session,
    actor: Actor,
    families: Families,
    configuration_id: str,
    spec: ConfigurationDuplicate,
) -> Configuration:
    """A new configuration for the same customer, starting from the values of one of
    ``configuration_id``'s revisions (its current one unless ``spec.revision`` names another);
    the original is left as it was."""
    original = get_configuration_row(
        session=session, actor=actor, configuration_id=configuration_id
    )
    source = get_revision(
        session=session,
        configuration=original,
        number=spec.revision or original.current_revision,
    )
    family = get_family(families=families, family_id=original.family_id)
    copy = Configuration(
        id=f"cfg-{secrets.token_hex(6)}",
        family_id=family.id,
        customer_id=original.customer_id,
        title=spec.title or f"Copy of {original.title}",
        current_revision=1,
    )
    session.add(copy)
    comment = spec.comment or f"copied from {original.id} revision {source.number}"
    _add_revision(session, copy, family, actor, 1, {}, dict(source.values), comment)
    session.flush()
    return copy


def revise_configuration(
    *,
    session: Session,
    actor: Actor,
    families: Families,
    configuration_id: str,
    spec: RevisionCreate,
) -> Configuration:
    """A new revision with ``spec.values`` applied on top of the current one."""
    configuration = get_configuration_row(
        session=session, actor=actor, configuration_id=configuration_id
    )
    current = configuration.current_revision
    if spec.base_revision is not None and spec.base_revision != current:
        raise Conflict(
            f"revision {current} was written since revision {spec.base_revision}: reload first"
        )
    family = get_family(families=families, family_id=configuration.family_id)
    previous = get_revision(session=session, configuration=configuration, number=current)
    values = {**previous.values, **spec.values}
    configuration.current_revision = current + 1
    _add_revision(
        session, configuration, family, actor, current + 1, previous.values, values, spec.comment
    )
    session.flush()
    return configuration


def _add_revision(
    session: Session,
    configuration: Configuration,
    family: ProductFamily,
    actor: Actor,
    number: int,
    before: Mapping[str, Any],
    wanted: dict[str, Any],
    comment: str,
) -> None:
    validation = validate(family, wanted)
    values = validation.values if validation.valid else {**validation.values, **wanted}
    session.add(
        ConfigurationRevision(
            configuration_id=configuration.id,
            number=number,
            values=values,
            changes=_changes(before, values),
            author=actor.name,
            author_role=actor.role,
            comment=comment,
            valid=validation.valid,
            problems=_problems(validation),
        )
    )
    _LOGGER.info(
        "configuration %s revision %d by %s (%s)",
        configuration.id,
        number,
        actor.name,
        "valid" if validation.valid else "invalid",
    )


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"option": name, "before": before.get(name), "after": after.get(name)}
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]


def _problems(validation: Validation) -> list[dict[str, Any]]:
    return [{"message": p.message, "option": p.option, "rule": p.rule} for p in validation.problems]


def list_configurations(*, session: Session, actor: Actor) -> list[Configuration]:
    query = configurations_query(actor).order_by(Configuration.created_at.desc())
    return list(session.scalars(query))


def list_revisions(
    *, session: Session, actor: Actor, configuration_id: str
) -> list[ConfigurationRevision]:
    configuration = get_configuration_row(
        session=session, actor=actor, configuration_id=configuration_id
    )
    query = (
        select(ConfigurationRevision)
        .where(ConfigurationRevision.configuration_id == configuration.id)
        .order_by(ConfigurationRevision.number)
    )
    return list(session.scalars(query))


def read_configuration(
    *, session: Session, families: Families, configuration: Configuration
) -> ConfigurationRead:
    family = get_family(families=families, family_id=configuration.family_id)
    revision = get_revision(
        session=session, configuration=configuration, number=configuration.current_revision
    )
    return ConfigurationRead(
        id=configuration.id,
        family_id=configuration.family_id,
        customer_id=configuration.customer_id,
        title=configuration.title,
        created_at=configuration.created_at,
        revision=RevisionRead.model_validate(revision),
        allowed=_allowed(allowed_values(family, revision.values)),
    )


def check(*, family: ProductFamily, values: Mapping[str, Any]) -> CheckResult:
    """Validate ``values`` without storing them: problems, allowed values, price if valid."""
    validation = validate(family, values)
    price: float | None = None
    if validation.valid:
        try:
            price = work_breakdown(family, validation.values).price
        except InvalidConfiguration as exc:
            validation = Validation(validation.values, exc.problems)
    return CheckResult(
        valid=validation.valid,
        values=validation.values,
        problems=[ProblemRead.model_validate(p) for p in _problems(validation)],
        allowed=_allowed(allowed_values(family, validation.values)),
        price=price,
        currency=family.currency if price is not None else None,
    )


def _allowed(allowed: Mapping[str, Allowed]) -> dict[str, AllowedRead]:
    return {
        name: AllowedRead(values=item.values, ranges=item.ranges, max_length=item.max_length)
        for name, item in allowed.items()
    }
