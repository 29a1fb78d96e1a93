"""The reference web app's core flows, walked call by call as the app makes them.

docs/compatibility.md explains where its calls differ from the spec. Each step below is one
row of the app's core sections (auth, users, patients, record families, links, sharing,
family-history sharing, system and logs) with the body the app sends, made the way the app
makes it: signed in by the `medapp_session` cookie from a form login, from our own origin,
never with an Authorization header. Every call must answer 2xx; the walk collects every
failure and reports them together, so one broken call does not hide the next.

Left out on purpose, each with the issue that brings it: SSO sign-in itself (initiate,
callback, resolve-conflict, test-connection: the SSO issue) and the medication reminder test
(`POST /medications/{id}/reminders/test`: the notifications issue).
"""

from __future__ import annotations

import io
import json
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ORIGIN = "http://testserver"
PASSWORD = "Walk-the-app-2026"


class Ids(dict):
    """Ids of what earlier steps created; one whose step failed reads as 0 (a 404 later)."""

    def __missing__(self, key):
        return 0


class Browser:
    """The app's HTTP helpers: cookie session, same-origin headers, JSON bodies."""

    def __init__(self, failures: list[str]):
        self.client = APIClient(enforce_csrf_checks=True)
        self.failures = failures
        self.ids = Ids()

    def call(self, method, path, body=None, *, save=None, form=False, files=None, expect=None):
        url = "/api/v1" + path.format_map(self.ids) if not path.startswith("/health") else path
        headers = {"HTTP_ORIGIN": ORIGIN, "HTTP_SEC_FETCH_SITE": "same-origin"}
        send = getattr(self.client, method.lower())
        if files is not None:
            response = send(url, {**(body or {}), **files}, format="multipart", **headers)
        elif form:
            response = send(
                url, urlencode(body), content_type="application/x-www-form-urlencoded", **headers
            )
        elif body is None:
            response = send(url, **headers)
        else:
            response = send(url, json.dumps(body), content_type="application/json", **headers)
        ok = response.status_code == expect if expect else 200 <= response.status_code < 300
        if not ok:
            self.failures.append(
                f"{method} {url} -> {response.status_code} {response.content[:300]!r}"
            )
            return None
        data = (
            response.json()
            if response.get("Content-Type", "").startswith("application/json")
            else None
        )
        if save:
            self.ids[save] = data["id"] if isinstance(data, dict) else None
        return data


def png() -> io.BytesIO:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    buffer.seek(0)
    buffer.name = "me.png"
    return buffer


def sign_up(browser: Browser, username: str, first: str, last: str) -> None:
    browser.call(
        "POST",
        "/auth/register",
        {
            "username": username,
            "password": PASSWORD,
            "email": f"{username}@example.org",
            "full_name": f"{first} {last}",
            "first_name": first,
            "last_name": last,
        },
    )
    token = browser.call(
        "POST", "/auth/login", {"username": username, "password": PASSWORD}, form=True
    )
    assert token and token["access_token"], browser.failures
    claims = json.loads(_b64(token["access_token"].split(".")[1]))
    if not isinstance(claims["user_id"], int):
        browser.failures.append(f"user_id claim is {claims['user_id']!r}, not an integer")
    me = browser.call("GET", "/users/me")
    browser.ids[f"{username}_id"] = me["id"] if me else None


def _b64(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def accept_pending(browser: Browser) -> None:
    """The recipient accepts the newest invitation on their dashboard, as the app does."""
    pending = browser.call("GET", "/invitations/pending?") or [{"id": 0}]
    browser.ids["inv"] = pending[0]["id"]
    browser.call(
        "POST", "/invitations/{inv}/respond", {"response": "accepted", "response_note": None}
    )


def share(browser: Browser, patient_id: int, recipient: str, level: str) -> None:
    """The sharing modal's invitation, with the fields the app sends by default."""
    browser.call(
        "POST",
        "/patient-sharing/",
        {
            "patient_id": patient_id,
            "shared_with_user_identifier": recipient,
            "permission_level": level,
            "expires_hours": 168,
        },
    )


def pending_sent_id(browser: Browser) -> int:
    """The sharing modal's pending invitation: the sent list filtered on status."""
    sent = browser.call("GET", "/invitations/sent?invitation_type=patient_share") or []
    return ([i for i in sent if i.get("status") == "pending"] or [{"id": 0}])[0]["id"]


def page_load(app: Browser) -> None:
    """§1.8: what every authenticated page load calls."""
    app.call("GET", "/system/log-level")
    app.call("GET", "/utils/timezone-info")
    app.call("GET", "/users/me")
    app.call("GET", "/users/me/preferences")
    app.call("GET", "/system/version")
    app.call("GET", "/system/releases?limit=20")
    app.call("GET", "/patient-management/active/current")
    app.call("GET", "/patient-management/?permission=view")
    app.call("GET", "/practitioners/")
    app.call("GET", "/pharmacies/")
    app.call(
        "POST",
        "/frontend-logs/log",
        {
            "level": "INFO",
            "message": "page loaded",
            "category": "app_data_fetch",
            "timestamp": "2026-12-04T10:00:00.000Z",
            "url": "http://testserver/dashboard",
            "user_agent": "Mozilla/5.0",
            "session_id": "s-1",
            "component": "Dashboard",
            "details": {"ms": 12},
            "0": "s",
            "1": "t",
        },
    )
    app.call("GET", "/patients/me/dashboard-stats")
    app.call("GET", "/patients/recent-activity/")
    app.call("GET", "/invitations/pending?")


def test_the_web_apps_core_flows_answer_2xx(db):
    failures: list[str] = []
    app = Browser(failures)
    other = Browser(failures)

    # §2 and §3: the login page, registration, account and preferences.
    app.call("GET", "/auth/registration-status")
    config = app.call("GET", "/auth/sso/config")
    assert config is None or config["enabled"] is False
    sign_up(app, "walker", "Wanda", "Walker")
    sign_up(other, "helper", "Hal", "Helper")
    page_load(app)
    app.call("PUT", "/users/me", {"full_name": "Wanda W. Walker", "last_name": None})
    app.call("PUT", "/users/me/preferences", {"unit_system": "metric", "date_format": "dmy"})
    app.call("PUT", "/users/me/preferences", {"language": "en", "session_timeout_minutes": 60})
    app.call(
        "POST",
        "/auth/change-password",
        {"currentPassword": PASSWORD, "newPassword": PASSWORD + "!"},
    )
    app.call("GET", "/users/me")

    # §4: patients.
    me = app.call("GET", "/patients/me")
    app.ids["pid"] = me["id"] if me else 0
    app.call(
        "POST",
        "/patient-management/",
        {
            "first_name": "Kid",
            "last_name": "Walker",
            "birth_date": "2015-05-01",
            "gender": "",
            "blood_type": "",
            "height": None,
            "weight": None,
            "address": "",
            "physician_id": None,
            "is_self_record": False,
            "relationship_to_self": "",
        },
        save="kid",
    )
    app.call(
        "PUT",
        "/patient-management/{kid}",
        {
            "id": app.ids.get("kid"),
            "first_name": "Kid",
            "last_name": "Walker",
            "birth_date": "2015-05-01",
            "gender": "",
            "blood_type": "",
            "height": "",
            "weight": "",
            "address": "",
            "physician_id": None,
            "is_self_record": False,
            "relationship_to_self": "",
        },
    )
    app.call("POST", "/patient-management/switch", {"patient_id": app.ids.get("kid")})
    app.call("POST", "/patient-management/switch", {"patient_id": app.ids["pid"]})
    app.call("GET", "/patients/me/dashboard-stats?patient_id={pid}")
    app.call("GET", "/patients/recent-activity/?patient_id={pid}")
    app.call("GET", "/patients/{pid}/photo/info")
    app.call("POST", "/patients/{pid}/photo", files={"file": png()})
    app.call("GET", "/patients/{pid}/photo/info")
    app.call("GET", "/patients/{pid}/photo")
    app.call("DELETE", "/patients/{pid}/photo")

    # §5.17: the directory the record forms pick from.
    app.call("GET", "/medical-specialties/")
    app.call(
        "POST",
        "/medical-specialties/",
        {"name": "Walkology", "description": None, "is_active": True},
        save="spec",
    )
    app.call("POST", "/practices/", {"name": "Corner Clinic"}, save="practice")
    app.call(
        "PUT",
        "/practices/{practice}",
        {
            "name": "Corner Clinic",
            "phone_number": None,
            "fax_number": None,
            "website": None,
            "patient_portal_url": None,
            "notes": None,
            "locations": None,
        },
    )
    app.call("GET", "/practices/")
    app.call("GET", "/practices/{practice}")
    app.call(
        "POST",
        "/practitioners/",
        {
            "name": "Dr. Step",
            "specialty_id": app.ids.get("spec"),
            "practice_id": app.ids.get("practice"),
            "phone_number": None,
            "email": None,
            "website": None,
            "rating": None,
        },
        save="doc",
    )
    app.call(
        "PUT",
        "/practitioners/{doc}",
        {"name": "Dr. Step", "specialty_id": app.ids.get("spec"), "rating": 4.5},
    )
    app.call(
        "POST",
        "/pharmacies/",
        {
            "name": "Corner Pharmacy",
            "brand": "",
            "street_address": "",
            "city": "",
            "state": None,
            "zip_code": None,
            "country": None,
            "store_number": "",
            "phone_number": None,
            "website": None,
            "specialty_services": None,
        },
        save="pharmacy",
    )
    app.call(
        "PUT",
        "/pharmacies/{pharmacy}",
        {"name": "Corner Pharmacy", "brand": "Corner", "city": "Town"},
    )

    # §5.2–§5.16: every record page, with the forms' bodies.
    pid = app.ids["pid"]
    tags = ["walk"]
    app.call(
        "POST",
        "/medications/",
        {
            "medication_name": "Ibuprofen",
            "medication_type": "prescription",
            "status": "active",
            "patient_id": pid,
            "tags": tags,
            "reminder_enabled": False,
            "reminder_times": [],
        },
        save="med",
    )
    app.call(
        "PUT",
        "/medications/{med}",
        {
            "medication_name": "Ibuprofen",
            "alternative_name": None,
            "medication_type": "prescription",
            "dosage": "200 mg",
            "frequency": None,
            "route": None,
            "indication": None,
            "status": "active",
            "patient_id": pid,
            "practitioner_id": app.ids.get("doc"),
            "pharmacy_id": app.ids.get("pharmacy"),
            "notes": None,
            "side_effects": None,
            "tags": tags,
            "reminder_enabled": False,
            "reminder_times": [],
            "reminder_days": None,
            "reminder_message": None,
        },
    )
    app.call("GET", "/medications/?patient_id={pid}")
    app.call("GET", "/medications/")

    allergy = {
        "allergen": "Pollen",
        "severity": "mild",
        "reaction": "",
        "onset_date": None,
        "status": "active",
        "notes": None,
        "medication_id": None,
        "tags": tags,
        "patient_id": pid,
    }
    app.call("POST", "/allergies/", allergy, save="allergy")
    app.call("PUT", "/allergies/{allergy}", {**allergy, "reaction": "Sneezing"})
    app.call("GET", "/allergies/?patient_id={pid}")

    condition = {
        "condition_name": None,
        "diagnosis": "Asthma",
        "notes": None,
        "status": "active",
        "severity": None,
        "practitioner_id": None,
        "icd10_code": None,
        "snomed_code": None,
        "code_description": None,
        "onset_date": None,
        "end_date": None,
        "tags": tags,
        "patient_id": pid,
    }
    app.call("POST", "/conditions/", condition, save="cond")
    # The edit form sends back the loaded condition_name with the user's new diagnosis.
    app.call(
        "PUT",
        "/conditions/{cond}",
        {
            **condition,
            "condition_name": "Asthma",
            "diagnosis": "Allergic asthma",
            "severity": "mild",
        },
    )
    app.call("GET", "/conditions/?patient_id={pid}")
    app.call("GET", "/conditions/{cond}")
    app.call("GET", "/conditions/dropdown?active_only=false")

    immunization = {
        "vaccine_name": "Influenza",
        "vaccine_trade_name": None,
        "date_administered": "2026-10-01",
        "dose_number": None,
        "lot_number": None,
        "ndc_number": None,
        "manufacturer": None,
        "site": None,
        "route": None,
        "expiration_date": None,
        "location": None,
        "notes": None,
        "practitioner_id": None,
        "standardized_vaccine_who_code": None,
        "tags": tags,
        "patient_id": pid,
    }
    app.call("POST", "/immunizations/", immunization, save="imm")
    app.call("PUT", "/immunizations/{imm}", {**immunization, "dose_number": 2})
    app.call("GET", "/immunizations/?patient_id={pid}")
    app.call(
        "GET", "/immunizations/patient/{pid}/history?start_date=2020-01-01&end_date=2026-12-31"
    )

    procedure = {
        "procedure_name": "X-ray",
        "procedure_type": None,
        "procedure_code": None,
        "description": "",
        "date": "2026-09-01",
        "status": "completed",
        "outcome": None,
        "notes": None,
        "facility": None,
        "procedure_setting": None,
        "procedure_complications": None,
        "procedure_duration": None,
        "practitioner_id": None,
        "anesthesia_type": None,
        "anesthesia_notes": None,
        "tags": tags,
        "patient_id": pid,
    }
    app.call("POST", "/procedures/", procedure, save="proc")
    app.call("PUT", "/procedures/{proc}", {**procedure, "outcome": "successful"})
    app.call("GET", "/procedures/?patient_id={pid}")

    treatment = {
        "treatment_name": "Inhaler plan",
        "treatment_type": None,
        "description": None,
        "start_date": "2026-09-01",
        "end_date": None,
        "status": "active",
        "dosage": None,
        "frequency": None,
        "mode": "simple",
        "notes": None,
        "tags": tags,
        "patient_id": pid,
        "condition_id": app.ids.get("cond"),
        "practitioner_id": None,
    }
    app.call("POST", "/treatments/", treatment, save="treat")
    app.call("PUT", "/treatments/{treat}", {**treatment, "mode": "advanced"})
    app.call("GET", "/treatments/?patient_id={pid}")
    app.call("GET", "/treatments/")

    encounter = {
        "reason": "Check-up",
        "date": "2026-09-02",
        "notes": None,
        "practitioner_id": None,
        "condition_id": None,
        "visit_type": None,
        "chief_complaint": None,
        "diagnosis": None,
        "treatment_plan": None,
        "follow_up_instructions": None,
        "duration_minutes": None,
        "location": None,
        "priority": None,
        "tags": tags,
        "patient_id": pid,
    }
    app.call("POST", "/encounters/", encounter, save="enc")
    app.call("PUT", "/encounters/{enc}", {**encounter, "duration_minutes": 20})
    app.call("GET", "/encounters/?patient_id={pid}")
    app.call("GET", "/encounters/")

    lab = {
        "test_name": "Basic panel",
        "test_code": None,
        "test_category": "blood work",
        "test_type": None,
        "facility": None,
        "status": "ordered",
        "labs_result": None,
        "ordered_date": "2026-09-03",
        "completed_date": None,
        "notes": None,
        "practitioner_id": None,
        "tags": tags,
        "patient_id": pid,
        "is_panel": True,
    }
    app.call("POST", "/lab-results/", lab, save="lab")
    app.call(
        "POST",
        "/lab-test-components/lab-result/{lab}/components/bulk?patient_id={pid}",
        {
            "lab_result_id": app.ids.get("lab"),
            "components": [
                {
                    "lab_result_id": app.ids.get("lab"),
                    "test_name": "Glucose",
                    "value": None,
                    "unit": "mg/dL",
                    "ref_range_min": 70,
                    "ref_range_max": 99,
                    "result_type": "quantitative",
                    "category": "chemistry",
                    "display_order": 1,
                },
                {
                    "lab_result_id": app.ids.get("lab"),
                    "test_name": "Sodium",
                    "value": None,
                    "unit": None,
                    "result_type": "quantitative",
                    "display_order": 2,
                },
            ],
        },
    )
    components = (
        app.call("GET", "/lab-test-components/lab-result/{lab}/components?patient_id={pid}") or []
    )
    app.ids["comp"] = components[0]["id"] if components else 0
    app.call(
        "PUT",
        "/lab-test-components/components/{comp}?patient_id={pid}",
        {"value": 90, "unit": "mg/dL"},
    )
    app.call("PUT", "/lab-results/{lab}", {"completed_date": "2026-09-05"})
    app.call(
        "PUT",
        "/lab-results/{lab}",
        {
            **lab,
            "test_code": "",
            "test_type": "",
            "facility": "",
            "labs_result": "",
            "notes": "",
            "status": "completed",
            "value": None,
            "unit": None,
            "ref_range_min": None,
        },
    )
    app.call("GET", "/lab-results/{lab}")
    app.call("GET", "/lab-results/?patient_id={pid}")
    app.call("GET", "/lab-test-components/patient/{pid}/all")
    app.call("GET", "/lab-test-components/patient/{pid}/trends?test_name=Glucose&limit=100")

    vitals = {
        "patient_id": pid,
        "recorded_date": "2026-09-06T08:00:00.000Z",
        "systolic_bp": 120,
        "diastolic_bp": 80,
        "heart_rate": 60,
    }
    app.call("POST", "/vitals/", vitals, save="vit")
    app.call(
        "PUT",
        "/vitals/{vit}",
        {
            **vitals,
            "temperature": None,
            "weight": 150,
            "height": None,
            "respiratory_rate": None,
            "oxygen_saturation": None,
            "blood_glucose": None,
            "a1c": None,
            "glucose_context": None,
            "pain_scale": None,
            "location": None,
            "device_used": None,
            "notes": None,
            "practitioner_id": None,
        },
    )
    app.call("GET", "/vitals/?patient_id={pid}")
    app.call("GET", "/vitals/stats?patient_id={pid}")
    app.call("GET", "/vitals/patient/{pid}?skip=0&limit=100&vital_type=blood_pressure")
    app.call(
        "GET",
        "/vitals/patient/{pid}/date-range?start_date=2026-01-01&end_date=2026-12-31&skip=0&limit=100",
    )
    app.call("GET", "/vitals/import/devices")

    injury_types = app.call("GET", "/injury-types/") or [{"id": None}]
    injury = {
        "injury_name": "Sprain",
        "injury_type_id": injury_types[0]["id"],
        "body_part": "Ankle",
        "laterality": None,
        "date_of_injury": "2026-08-01",
        "mechanism": None,
        "severity": None,
        "status": "active",
        "treatment_received": None,
        "recovery_notes": None,
        "practitioner_id": None,
        "notes": None,
        "tags": tags,
        "patient_id": pid,
    }
    app.call("POST", "/injuries/", injury, save="inj")
    app.call("PUT", "/injuries/{inj}", {**injury, "severity": "mild"})
    app.call("GET", "/injuries/?patient_id={pid}")

    app.call(
        "POST",
        "/insurances/",
        {
            "insurance_type": "medical",
            "company_name": "Acme Health",
            "member_name": "Wanda Walker",
            "member_id": "M-1",
            "effective_date": "2026-01-01",
            "status": "active",
            "is_primary": True,
            "patient_id": pid,
            "tags": tags,
        },
        save="ins",
    )
    app.call(
        "PUT",
        "/insurances/{ins}",
        {
            "insurance_type": "medical",
            "company_name": "Acme Health",
            "member_name": "Wanda Walker",
            "member_id": "M-1",
            "employer_group": "",
            "group_number": "",
            "plan_name": "",
            "policy_holder_name": "",
            "relationship_to_holder": "",
            "effective_date": "2026-01-01",
            "expiration_date": "",
            "status": "active",
            "is_primary": True,
            "notes": "",
            "coverage_details": {},
            "contact_info": {},
            "tags": tags,
        },
    )
    app.call("PATCH", "/insurances/{ins}/set-primary")
    app.call("GET", "/insurances/?patient_id={pid}")

    contact = {
        "name": "Sam Walker",
        "relationship": "spouse",
        "phone_number": "555-0100",
        "secondary_phone": None,
        "email": None,
        "is_primary": True,
        "is_active": True,
        "address": None,
        "notes": None,
    }
    app.call("POST", "/emergency-contacts/?patient_id={pid}", contact, save="contact")
    app.call(
        "PUT", "/emergency-contacts/{contact}?patient_id={pid}", {**contact, "notes": "evenings"}
    )
    app.call("GET", "/emergency-contacts/?patient_id={pid}")

    member = {
        "name": "Grandma Walker",
        "relationship": "maternal_grandmother",
        "gender": None,
        "birth_year": 1940,
        "death_year": None,
        "is_deceased": False,
        "notes": None,
        "patient_id": pid,
    }
    app.call("POST", "/family-members/", member, save="fam")
    app.call("PUT", "/family-members/{fam}?patient_id={pid}", {**member, "notes": "maternal"})
    family_condition = {
        "condition_name": "Diabetes",
        "condition_type": None,
        "severity": None,
        "diagnosis_age": None,
        "status": None,
        "icd10_code": None,
        "notes": None,
    }
    app.call(
        "POST",
        "/family-members/{fam}/conditions?patient_id={pid}",
        family_condition,
        save="famcond",
    )
    app.call(
        "PUT",
        "/family-members/{fam}/conditions/{famcond}?patient_id={pid}",
        {**family_condition, "diagnosis_age": 60},
    )
    app.call("GET", "/family-members/?patient_id={pid}")

    symptom = {
        "symptom_name": "Headache",
        "category": "",
        "first_occurrence_date": "2026-09-01",
        "status": "active",
        "is_chronic": False,
        "resolved_date": None,
        "typical_triggers": [],
        "general_notes": "",
        "tags": tags,
        "patient_id": pid,
    }
    app.call("POST", "/symptoms/", symptom, save="sym")
    app.call("PUT", "/symptoms/{sym}", {**symptom, "is_chronic": True})
    app.call("GET", "/symptoms/?patient_id={pid}")
    app.call("GET", "/symptoms/{sym}")
    occurrence = {
        "occurrence_date": "2026-09-02",
        "occurrence_time": None,
        "severity": "mild",
        "pain_scale": None,
        "duration": "",
        "location": "",
        "impact_level": "",
        "triggers": [],
        "relief_methods": [],
        "associated_symptoms": [],
        "resolved_date": None,
        "resolved_time": None,
        "resolution_notes": "",
        "notes": "",
    }
    app.call("POST", "/symptoms/{sym}/occurrences", occurrence, save="occ")
    app.call("PUT", "/symptoms/{sym}/occurrences/{occ}", {**occurrence, "pain_scale": 4})
    app.call("GET", "/symptoms/{sym}/occurrences?skip=0&limit=100")
    app.call("GET", "/symptoms/timeline?patient_id={pid}&start_date=2026-01-01&end_date=2026-12-31")

    equipment = {
        "equipment_name": "CPAP",
        "equipment_type": "cpap",
        "manufacturer": None,
        "model_number": None,
        "serial_number": None,
        "prescribed_date": None,
        "last_service_date": None,
        "next_service_date": None,
        "usage_instructions": None,
        "status": "active",
        "supplier": None,
        "notes": None,
        "tags": tags,
        "patient_id": pid,
        "practitioner_id": None,
    }
    app.call("POST", "/medical-equipment/", equipment, save="equip")
    app.call("PUT", "/medical-equipment/{equip}", {**equipment, "supplier": "Acme"})
    app.call("GET", "/medical-equipment/")

    # §6: links, created, listed, edited and removed as the record pages do.
    ids = app.ids
    link_steps = [
        (
            "/conditions/{cond}/medications",
            {
                "medication_id": ids.get("med"),
                "condition_id": ids.get("cond"),
                "relevance_note": None,
            },
            "/conditions/condition-medications/{cond}",
        ),
        (
            "/lab-results/{lab}/conditions",
            {
                "lab_result_id": ids.get("lab"),
                "condition_id": ids.get("cond"),
                "relevance_note": None,
            },
            None,
        ),
        (
            "/lab-results/{lab}/encounters",
            {"encounter_id": ids.get("enc"), "purpose": None, "relevance_note": None},
            None,
        ),
        (
            "/lab-results/{lab}/medications",
            {"medication_id": ids.get("med"), "relevance_note": None},
            None,
        ),
        (
            "/lab-results/{lab}/procedures",
            {"procedure_id": ids.get("proc"), "relevance_note": None},
            None,
        ),
        (
            "/treatments/{treat}/medications",
            {
                "medication_id": ids.get("med"),
                "specific_dosage": None,
                "specific_frequency": None,
                "specific_duration": None,
                "timing_instructions": None,
                "relevance_note": None,
                "specific_prescriber_id": None,
                "specific_pharmacy_id": None,
                "specific_start_date": None,
            },
            "/medications/{med}/treatments",
        ),
        (
            "/treatments/{treat}/encounters",
            {
                "encounter_id": ids.get("enc"),
                "visit_label": None,
                "visit_sequence": None,
                "relevance_note": None,
            },
            None,
        ),
        (
            "/treatments/{treat}/equipment",
            {
                "equipment_id": ids.get("equip"),
                "usage_frequency": None,
                "specific_settings": None,
                "relevance_note": None,
            },
            None,
        ),
    ]
    for base, body, reverse in link_steps:
        rel = app.call("POST", base, body)
        app.call("GET", base)
        if reverse:
            app.call("GET", reverse)
        if rel:
            app.ids["rel"] = rel["id"]
            app.call("PUT", base + "/{rel}", {"relevance_note": "checked"})
            app.call("DELETE", base + "/{rel}")
    app.call("GET", "/conditions/medication/{med}/conditions")
    app.call("GET", "/conditions/{cond}/lab-results")
    # Treatment ⇄ lab result, seen from both sides.
    rel = app.call(
        "POST",
        "/treatments/{treat}/lab-results",
        {
            "lab_result_id": ids.get("lab"),
            "purpose": None,
            "expected_frequency": None,
            "relevance_note": None,
        },
    )
    app.call("GET", "/lab-results/{lab}/treatments")
    if rel:
        app.ids["rel"] = rel["id"]
        app.call(
            "PUT",
            "/lab-results/{lab}/treatments/{rel}",
            {"purpose": "monitoring", "relevance_note": None},
        )
        app.call("DELETE", "/treatments/{treat}/lab-results/{rel}")
    app.call(
        "POST",
        "/conditions/{cond}/medications/bulk",
        {"medication_ids": [ids.get("med")], "relevance_note": None},
    )
    app.call(
        "POST",
        "/encounters/{enc}/lab-results/bulk",
        {"lab_result_ids": [ids.get("lab")], "purpose": None, "relevance_note": None},
    )
    app.call("GET", "/encounters/{enc}/lab-results")
    app.call(
        "POST",
        "/treatments/{treat}/medications/bulk",
        {"medication_ids": [ids.get("med")], "relevance_note": None},
    )
    app.call(
        "POST",
        "/treatments/{treat}/encounters/bulk",
        {"encounter_ids": [ids.get("enc")], "relevance_note": None},
    )
    app.call(
        "POST",
        "/treatments/{treat}/lab-results/bulk",
        {"lab_result_ids": [ids.get("lab")], "purpose": None, "relevance_note": None},
    )
    app.call(
        "POST",
        "/treatments/{treat}/equipment/bulk",
        {"equipment_ids": [ids.get("equip")], "relevance_note": None},
    )

    # §9: sharing a patient with the other user, by invitation.
    helper_id = other.ids.get("helper_id")
    app.call(
        "POST",
        "/patient-sharing/",
        {
            "patient_id": pid,
            "shared_with_user_identifier": "helper",
            "permission_level": "view",
            "expires_at": None,
            "custom_permissions": None,
            "message": "for the appointments",
            "expires_hours": 168,
        },
    )
    app.call("GET", "/invitations/sent?invitation_type=patient_share")
    app.call("GET", "/invitations/sent")
    accept_pending(other)
    shares = app.call("GET", "/patient-sharing/{pid}")
    if shares is not None and not (isinstance(shares, dict) and shares.get("shares")):
        failures.append(f"GET /patient-sharing/{pid} lists no shares: {shares!r}")
    app.ids["helper"] = helper_id
    app.call(
        "PUT",
        "/patient-sharing/?patient_id={pid}&shared_with_user_id={helper}",
        {"permission_level": "edit", "expires_at": None, "custom_permissions": None},
    )
    app.call("GET", "/patient-sharing/shared-by-me")
    other.call("GET", "/patient-sharing/shared-with-me")
    other.call("GET", "/patient-management/?permission=view")
    app.call(
        "DELETE", "/patient-sharing/revoke", {"patient_id": pid, "shared_with_user_id": helper_id}
    )
    # Access ended for real: the helper no longer reads the patient's records.
    other.ids["pid"] = pid
    other.call("GET", "/medications/?patient_id={pid}", expect=403)
    # Share again; this time the helper leaves.
    share(app, pid, "helper@example.org", "view")
    accept_pending(other)
    other.call("DELETE", "/patient-sharing/remove-my-access/{pid}")
    # An invitation the sender takes back, then deletes.
    share(app, pid, "helper", "view")
    app.ids["inv"] = pending_sent_id(app)
    app.call("POST", "/invitations/{inv}/revoke")
    # One the sender cancels (deletes) while it is still pending.
    share(app, pid, "helper", "edit")
    app.ids["inv"] = pending_sent_id(app)
    app.call("DELETE", "/invitations/{inv}")

    # §10: family-history sharing.
    app.call(
        "POST",
        "/family-history-sharing/{fam}/shares",
        {
            "shared_with_identifier": "helper",
            "permission_level": "view",
            "sharing_note": "for your records",
            "expires_hours": 168,
        },
    )
    accept_pending(other)
    shared = other.call("GET", "/family-history-sharing/shared-with-me")
    if shared is not None and not (
        isinstance(shared, dict) and shared.get("shared_family_history")
    ):
        failures.append(f"family-history shared-with-me is empty: {shared!r}")
    app.call("GET", "/family-history-sharing/{fam}/shares")
    app.call("DELETE", "/family-history-sharing/{fam}/shares/{helper}")
    app.call(
        "POST",
        "/family-history-sharing/bulk-invite",
        {
            "family_member_ids": [ids.get("fam")],
            "shared_with_identifier": "helper",
            "permission_level": "view",
            "sharing_note": "",
            "expires_hours": 168,
        },
    )
    accept_pending(other)
    other.ids["fam"] = ids.get("fam")
    other.call("DELETE", "/family-history-sharing/shared-with-me/{fam}/remove-access")

    # §15: the error logger and the root health check.
    app.call(
        "POST",
        "/frontend-logs/error",
        {
            "error_message": "boom",
            "error_type": "TypeError",
            "stack_trace": None,
            "component_name": None,
            "props": {},
            "user_id": ids.get("walker_id"),
            "url": "http://testserver/x",
            "timestamp": "2026-12-04T10:00:00Z",
            "user_agent": "Mozilla/5.0",
            "browser_info": {"language": "en"},
        },
    )
    app.call("GET", "/health")

    # Deleting, as each record page does last.
    for path in (
        "/family-members/{fam}/conditions/{famcond}?patient_id={pid}",
        "/family-members/{fam}?patient_id={pid}",
        "/symptoms/{sym}/occurrences/{occ}",
        "/symptoms/{sym}",
        "/lab-test-components/components/{comp}?patient_id={pid}",
        "/emergency-contacts/{contact}?patient_id={pid}",
        "/insurances/{ins}",
        "/injuries/{inj}",
        "/vitals/{vit}",
        "/lab-results/{lab}",
        "/encounters/{enc}",
        "/treatments/{treat}",
        "/medical-equipment/{equip}",
        "/procedures/{proc}",
        "/immunizations/{imm}",
        "/conditions/{cond}",
        "/allergies/{allergy}",
        "/medications/{med}",
        "/practitioners/{doc}",
        "/pharmacies/{pharmacy}",
        "/practices/{practice}",
        "/patient-management/{kid}",
    ):
        app.call("DELETE", path)
    app.call("POST", "/auth/logout")
    app.call("DELETE", "/users/me", expect=401)  # signed out: the cookie is gone

    assert not failures, "\n".join(failures)
