"""Reads `fields.yaml` and `segments.yaml`, validates everything, and builds a `RuleSet`.

The only module of the package that touches the file system. Every problem is collected, named
by file and key path (`segments.yaml: segments[3].when.all[1]: ...`), and raised at once as one
`ConfigError`, so `syncd check` shows the whole list in one go.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from syncd.errors import ConfigError
from syncd.segments import refs
from syncd.segments.derived import builtin_fields
from syncd.segments.fields import FieldCatalog, FieldDef, FieldType, Source, SourcePath
from syncd.segments.model import FIELD_NAME_RE, FieldSpec, SegmentSpec, StageSpec
from syncd.segments.rules import Cond, ConditionParser, Ref, refs_used
from syncd.segments.ruleset import RuleSet, Segment, Stage, Success
from syncd.yamlfile import parse_yaml

FIELDS_FILE = "fields.yaml"
SEGMENTS_FILE = "segments.yaml"


def load_mappings(directory: Path) -> RuleSet:
    """Load and validate `directory/fields.yaml` and `directory/segments.yaml`.

    Raises:
        ConfigError: with every problem found, each naming its file and key path.
    """
    problems: list[str] = []
    fields_name = _display(directory, FIELDS_FILE)
    segments_name = _display(directory, SEGMENTS_FILE)
    fields_text = _read(directory / FIELDS_FILE, fields_name, problems)
    segments_text = _read(directory / SEGMENTS_FILE, segments_name, problems)
    rules = parse_mappings(
        fields_text, segments_text, problems, fields_name=fields_name, segments_name=segments_name
    )
    if problems or rules is None:
        raise ConfigError(
            f"mappings in {directory} are invalid ({len(problems)} problem"
            f"{'' if len(problems) == 1 else 's'})",
            problems=problems,
        )
    return rules


def parse_mappings(
    fields_yaml: str | None,
    segments_yaml: str | None,
    problems: list[str],
    *,
    fields_name: str = FIELDS_FILE,
    segments_name: str = SEGMENTS_FILE,
) -> RuleSet | None:
    """The rules from the text of both files; every problem is appended to `problems`.

    `load_mappings` calls it once it has read the files (None: a file could not be read, and
    that is already a problem); tests call it with YAML they write inline.

    Returns:
        The rules, or None when a problem was found.
    """
    fields_raw = _parse_file(fields_yaml, fields_name, problems)
    segments_raw = _parse_file(segments_yaml, segments_name, problems)
    fields = parse_fields(fields_raw, fields_name, problems) if fields_raw is not None else None
    if fields is None or segments_raw is None:
        return None
    return parse_segments(segments_raw, fields, segments_name, problems)


def parse_fields(raw: Any, filename: str, problems: list[str]) -> FieldCatalog | None:
    """The field map from a parsed fields.yaml; None when it is unusable."""
    top = _top(raw, filename, ("fields",), problems)
    if top is None:
        return None
    entries = top.get("fields")
    if not isinstance(entries, dict) or not entries:
        problems.append(f"{filename}: fields: expected a mapping of canonical field names")
        return None
    out: dict[str, FieldDef] = {}
    builtins = builtin_fields()
    for name, spec_raw in entries.items():
        path = f"fields.{name}"
        if not isinstance(name, str) or not FIELD_NAME_RE.match(name):
            problems.append(f"{filename}: {path}: field names are lowercase snake_case")
            continue
        if name in builtins:
            problems.append(
                f"{filename}: {path}: {name!r} is a built-in field computed by syncd; "
                "choose another name"
            )
            continue
        spec = _validate(FieldSpec, spec_raw, filename, path, problems)
        if spec is None:
            continue
        prefer = spec.prefer
        if prefer is None and spec.hubspot and spec.mailchimp:
            prefer = Source.HUBSPOT  # documented default: the CRM is the system of record
        out[name] = FieldDef(
            name=name,
            type=spec.type,
            hubspot=SourcePath(Source.HUBSPOT, spec.hubspot) if spec.hubspot else None,
            mailchimp=SourcePath(Source.MAILCHIMP, spec.mailchimp) if spec.mailchimp else None,
            prefer=prefer,
        )
        if out[name].hubspot and out[name].hubspot.association not in (None, "deals", "company"):  # type: ignore[union-attr]
            problems.append(
                f"{filename}: {path}.hubspot: dotted sources must start with 'deals.' or "
                f"'company.', got {spec.hubspot!r}"
            )
    return FieldCatalog(out | builtins)


def parse_segments(
    raw: Any, fields: FieldCatalog, filename: str, problems: list[str]
) -> RuleSet | None:
    """The rule set from a parsed segments.yaml; None when problems were recorded."""
    before = len(problems)
    top = _top(raw, filename, ("journey", "segments"), problems)
    if top is None:
        return None
    parser = ConditionParser(fields, problems, filename)
    stages = _stages(top.get("journey"), parser, filename, problems)
    segments = _segments(top.get("segments"), parser, filename, problems)
    # Link even after problems, so unknown references and cycles show in the same report;
    # references to declared-but-invalid items are not reported twice.
    journey = top.get("journey")
    raw_stages = journey.get("stages") if isinstance(journey, dict) else None
    declared = _declared_keys(top.get("segments"))
    declared |= {f"journey/{k}" for k in _declared_keys(raw_stages)}
    ruleset = _link(stages, segments, fields, filename, problems, declared)
    return ruleset if len(problems) == before else None


def _declared_keys(items: Any) -> set[str]:
    if not isinstance(items, list):
        return set()
    return {i["key"] for i in items if isinstance(i, dict) and isinstance(i.get("key"), str)}


def _stages(raw: Any, parser: ConditionParser, filename: str, problems: list[str]) -> list[Stage]:
    if raw is None:
        return []
    if not isinstance(raw, dict) or set(raw) - {"stages"}:
        problems.append(f"{filename}: journey: expected a mapping with only 'stages'")
        return []
    items = raw.get("stages")
    if not isinstance(items, list):
        problems.append(f"{filename}: journey.stages: expected a list of stages")
        return []
    out: list[Stage] = []
    for path, spec in _unique_specs(
        StageSpec, items, "journey.stages", "stage", filename, problems
    ):
        when = parser.parse(spec.when, f"{path}.when")
        if when is not None:
            out.append(Stage(spec.key, when, f"{filename}: {path}", spec.description))
    return out


_KeyedSpec = TypeVar("_KeyedSpec", StageSpec, SegmentSpec)


def _unique_specs(
    model: type[_KeyedSpec],
    items: list[Any],
    prefix: str,
    kind: str,
    filename: str,
    problems: list[str],
) -> Iterator[tuple[str, _KeyedSpec]]:
    """Validated items with their paths; invalid ones and repeated keys become problems."""
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        path = f"{prefix}[{i}]"
        spec = _validate(model, item, filename, path, problems)
        if spec is None:
            continue
        if spec.key in seen:
            problems.append(
                f"{filename}: {path}.key: duplicate {kind} {spec.key!r} "
                f"(first at {prefix}[{seen[spec.key]}])"
            )
            continue
        seen[spec.key] = i
        yield path, spec


def _segments(
    raw: Any, parser: ConditionParser, filename: str, problems: list[str]
) -> list[Segment]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(f"{filename}: segments: expected a list of segments")
        return []
    out: list[Segment] = []
    for path, spec in _unique_specs(SegmentSpec, raw, "segments", "segment", filename, problems):
        when: Cond | None = parser.parse(spec.when, f"{path}.when")
        success_ok, success = _success(spec, parser, path)
        bad_kpis = _kpi_problems(spec, parser, path)
        if when is None or not success_ok or bad_kpis:
            continue
        out.append(
            Segment(
                key=spec.key,
                when=when,
                where=f"{filename}: {path}",
                model=spec.model,
                goal=spec.goal,
                exclusive=spec.exclusive,
                priority=spec.priority,
                persona=spec.persona,
                min_size=spec.min_size,
                description=spec.description,
                targets=spec.targets,
                holdout=spec.holdout,
                kpis=dict(spec.kpis or {}),
                success=success,
                min_dwell=spec.min_dwell,
            )
        )
    return out


def _success(spec: SegmentSpec, parser: ConditionParser, path: str) -> tuple[bool, Success | None]:
    """(valid, the parsed `success:` or None when absent); a problem is recorded when invalid."""
    if spec.success is None:
        return True, None
    cond = parser.parse(spec.success.when, f"{path}.success.when")
    return cond is not None, None if cond is None else Success(cond, spec.success.within)


def _kpi_problems(spec: SegmentSpec, parser: ConditionParser, path: str) -> bool:
    """Record a problem for each KPI that is not a number field; True when there was one."""
    bad = False
    for name in spec.kpis or {}:
        known = parser.fields.get(name)
        if known is None or known.type is not FieldType.NUMBER:
            what = "unknown field" if known is None else f"{known.type.value} field"
            parser.problem(f"{path}.kpis.{name}", f"KPIs are number fields; {name!r} is {what}")
            bad = True
    return bad


def _dependency(
    ref: Ref,
    own_key: str,
    stage_keys: set[str],
    group_of: Mapping[str, str | None],
    declared: set[str],
) -> tuple[str | None, str | None]:
    """What one reference depends on, or what is wrong with it.

    Returns:
        `(unit it depends on, None)`, `(None, problem)`, or `(None, None)` for a reference
        to a segment declared but invalid (already reported where it is declared).
    """
    stage = ref.journey_stage
    if stage is not None:
        if stage in stage_keys:
            return refs.JOURNEY, None
        if ref.target in declared:
            return None, None
        known = ", ".join(sorted(stage_keys)) or "none"
        return None, f"unknown journey stage {stage!r} (known: {known})"
    if ref.target not in group_of:
        if ref.target in declared:
            return None, None
        known = ", ".join(sorted(group_of)) or "none"
        return None, (
            f"unknown segment {ref.target!r} (known: {known}; journey stages are 'journey/STAGE')"
        )
    group = group_of[ref.target]
    if own_key and group and group == group_of.get(own_key):
        return None, (
            f"refers to {ref.target!r} in its own exclusive group {group!r}; membership there "
            "depends on this segment"
        )
    return refs.final_unit(ref.target, group_of), None


def _success_refs(
    segments: list[Segment],
    stage_keys: set[str],
    group_of: Mapping[str, str | None],
    declared: set[str],
    filename: str,
    problems: list[str],
) -> None:
    """Unknown targets in success conditions (evaluated after every unit: any is allowed)."""
    for s in segments:
        for ref in refs_used(s.success.when) if s.success else []:
            _, problem = _dependency(ref, "", stage_keys, group_of, declared)
            if problem:
                problems.append(f"{filename}: {ref.path}.segment: {problem}")


def _link(
    stages: list[Stage],
    segments: list[Segment],
    fields: FieldCatalog,
    filename: str,
    problems: list[str],
    declared: set[str],
) -> RuleSet | None:
    """Resolve references, order the units, and report unknown targets and cycles."""
    stage_keys = {s.key for s in stages}
    group_of = {s.key: s.exclusive for s in segments}
    deps: dict[str, list[str]] = {}
    owners: list[tuple[str, str, Cond]] = [(refs.JOURNEY, "", s.when) for s in stages]
    owners += [(refs.segment_unit(s.key), s.key, s.when) for s in segments]
    deps[refs.JOURNEY] = []
    for s in segments:
        deps[refs.segment_unit(s.key)] = []
    _success_refs(segments, stage_keys, group_of, declared, filename, problems)
    for unit, own_key, cond in owners:
        for ref in refs_used(cond):
            dep, problem = _dependency(ref, own_key, stage_keys, group_of, declared)
            if problem:
                problems.append(f"{filename}: {ref.path}.segment: {problem}")
            if dep is not None:
                deps[unit].append(dep)
    groups: dict[str, list[Segment]] = {}
    for s in segments:
        if s.exclusive:
            groups.setdefault(s.exclusive, []).append(s)
    for name, members in groups.items():
        deps[refs.group_unit(name)] = [refs.segment_unit(m.key) for m in members]
    order, cycles = refs.order_units(deps)
    for cycle in cycles:
        problems.append(f"{filename}: reference cycle: {' -> '.join(cycle)}")
    if cycles:
        return None
    # Highest priority first; equal priorities keep file order (sorted is stable).
    ranked = {
        name: tuple(m.key for m in sorted(members, key=lambda m: -m.priority))
        for name, members in groups.items()
    }
    return RuleSet(
        stages=tuple(stages),
        segments=tuple(segments),
        units=tuple(order),
        deps={u: tuple(d) for u, d in deps.items()},
        groups=ranked,
        fields=fields,
    )


# -- YAML --------------------------------------------------------------------------------------


def _read(path: Path, filename: str, problems: list[str]) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(f"{filename}: cannot read ({exc.strerror or exc})")
        return None
    except UnicodeDecodeError as exc:
        problems.append(f"{filename}: not UTF-8 text (byte {exc.start} cannot be decoded)")
        return None


def _parse_file(text: str | None, filename: str, problems: list[str]) -> Any:
    """The parsed file; an empty one (or only comments) is a problem, never silently nothing."""
    if text is None:
        return None
    before = len(problems)
    raw = parse_yaml(text, filename, problems)
    if raw is None and len(problems) == before:
        problems.append(f"{filename}: the file is empty (it holds no rules)")
    return raw


def _display(directory: Path, name: str) -> str:
    return str(directory / name)


def _top(
    raw: Any, filename: str, allowed: tuple[str, ...], problems: list[str]
) -> Mapping[str, Any] | None:
    if not isinstance(raw, dict):
        problems.append(f"{filename}: expected a mapping with {', '.join(allowed)} at the top")
        return None
    for key in raw:
        if key not in allowed:
            problems.append(
                f"{filename}: {key}: unknown top-level key (expected: {', '.join(allowed)})"
            )
    return raw


M = TypeVar("M", bound=BaseModel)


def _validate(model: type[M], raw: Any, filename: str, path: str, problems: list[str]) -> M | None:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
            where = f"{path}{loc}"
            if err["type"] == "extra_forbidden":
                parent = where.rsplit(".", 1)[0]
                known = ", ".join(model.model_fields) if len(err["loc"]) == 1 else None
                problems.append(
                    f"{filename}: {parent}: unknown key {err['loc'][-1]!r}"
                    + (f" (known: {known})" if known else "")
                )
            elif err["type"] == "missing":
                problems.append(f"{filename}: {where}: required key is missing")
            else:
                msg = err["msg"].removeprefix("Value error, ")
                problems.append(f"{filename}: {where}: {msg}")
        return None
