from django.core.management.base import BaseCommand
from django.db import transaction

from institutions import reference
from institutions.models import (
    ApprovingBody,
    Category,
    Institution,
    InstitutionType,
    MedicalInformationSystem,
    Region,
)
from permissions.models import PermissionType


def _upsert(model, lookup: dict, values: dict) -> str:
    """Create, update changed fields, or leave alone; return which."""
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        model.objects.create(**lookup, **values)
        return "created"
    changed = [k for k, v in values.items() if getattr(obj, k) != v]
    if changed:
        for k in changed:
            setattr(obj, k, values[k])
        obj.save(update_fields=changed)
        return "updated"
    return "unchanged"


class Command(BaseCommand):
    help = (
        "Load reference data idempotently: 시도 regions and their health centers (approving "
        "bodies) from institutions/data/health_centers.csv, the central department, "
        "institution types, HIRA categories (종별구분), permission types, medical information "
        "systems and a demo set of institutions. Rows are matched on natural keys; running it "
        "again writes nothing unless the data changed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-demo-institutions", action="store_true",
                            help="Skip the demo institutions (for production).")

    @transaction.atomic
    def handle(self, *args, **options):
        counts: dict[str, int] = {}

        def tally(kind: str, result: str) -> None:
            counts[f"{kind} {result}"] = counts.get(f"{kind} {result}", 0) + 1

        rows = reference.read_health_centers()
        for code, name in sorted({(row.sido_code, row.sido) for row in rows}):
            tally("region", _upsert(Region, {"code": code}, {"name": name}))
        codes = reference.health_center_codes(rows)
        for row in rows:
            region = Region.objects.get(code=row.sido_code)
            existing = ApprovingBody.objects.filter(
                region=region, sigungu=row.sigungu, name=row.name,
                kind=ApprovingBody.Kind.HEALTH_CENTER,
            ).first()
            values = {"sigungu_code": row.sigungu_code, "center_kind": row.kind}
            if existing is None:
                ApprovingBody.objects.create(
                    code=codes[(row.sido, row.sigungu, row.name)], name=row.name,
                    kind=ApprovingBody.Kind.HEALTH_CENTER, region=region, sigungu=row.sigungu,
                    phone=row.phone, **values,
                )
                tally("health center", "created")
            else:
                # The phone is maintained in the admin after the first load: never overwrite.
                tally("health center", _upsert(ApprovingBody, {"pk": existing.pk}, values))
        tally("central", self._central())
        for code, name, is_medical, sort in reference.INSTITUTION_TYPES:
            tally("institution type", _upsert(
                InstitutionType, {"code": code},
                {"name": name, "is_medical": is_medical, "sort": sort}))
        for code, name in reference.CATEGORIES:
            tally("category", _upsert(Category, {"code": code}, {"name": name}))
        for (code, name, approver, area, label, revocable, sort,
             description) in reference.PERMISSION_TYPES:
            tally("permission type", _upsert(
                PermissionType, {"code": code},
                {"name": name, "approver": approver, "menu_area": area, "menu_label": label,
                 "revocable": revocable, "sort": sort, "description": description}))
        for sort, name in enumerate(reference.MEDICAL_INFORMATION_SYSTEMS):
            tally("medical information system", _upsert(
                MedicalInformationSystem, {"name": name}, {"sort": sort * 10}))
        if not options["no_demo_institutions"]:
            self._demo_institutions(tally)
        summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
        self.stdout.write(f"Reference data loaded ({summary}).")

    def _central(self) -> str:
        central = reference.CENTRAL_BODY
        result = _upsert(ApprovingBody, {"code": central["code"]},
                         {"name": central["name"], "kind": ApprovingBody.Kind.CENTRAL})
        # Like a health center's, the phone is maintained in the admin once set: it is only
        # filled in while blank (a first load, or a database from before it was known).
        if ApprovingBody.objects.filter(code=central["code"], phone="").update(
            phone=central["phone"]
        ) and result == "unchanged":
            result = "updated"
        return result

    def _demo_institutions(self, tally) -> None:
        for number, name, type_code, category, postcode, address, sigungu in (
            reference.DEMO_INSTITUTIONS
        ):
            jurisdiction = (
                ApprovingBody.objects.filter(
                    sigungu_code=sigungu, kind=ApprovingBody.Kind.HEALTH_CENTER
                ).order_by("code").first()
            )
            tally("demo institution", _upsert(Institution, {"number": number}, {
                "name": name, "type": InstitutionType.objects.get(code=type_code),
                "category": Category.objects.get(code=category) if category else None,
                "postcode": postcode, "address": address,
                "region": Region.objects.get(code=sigungu[:2]), "sigungu_code": sigungu,
                "jurisdiction": jurisdiction,
            }))
