"""The phones' find form: built by pyxform from the reference, in Kazakh, Russian and English,
versioned by the reference's content, announced by an OpenRosa formList, and parsed by
JavaRosa (ODK Validate) as ODK Collect will."""

from __future__ import annotations

import dataclasses
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pyxform.validators import odk_validate

from field_core.collect.form import (
    FORM_ID,
    FindForm,
    FormReference,
    FormSite,
    build_find_form,
    find_form_definition,
    form_list_entry,
    form_list_xml,
    form_version,
)
from tests.unit.collect.conftest import EXPEDITION, reference_document

XF = "{http://www.w3.org/2002/xforms}"
H = "{http://www.w3.org/1999/xhtml}"
KAZAKH_SITE = FormSite("ҚҰМ", "Қызылқұм — Әулиеқұдық, Ңөүһі маңы")
WIRE_FIELDS = (
    *("site_code", "trench", "context", "find_number", "kind", "material", "object_name"),
    *("description", "quantity", "weight_g", "length_mm", "width_mm", "height_mm"),
    *("condition", "position", "depth_m", "found_on", "notes"),
)


def _model(form: FindForm) -> ET.Element:
    model = ET.fromstring(form.xml).find(f"{H}head/{XF}model")
    assert model is not None
    return model


def _translations(form: FindForm) -> dict[str, dict[str, str]]:
    """{language name: {text id: text}} of the form's itext."""
    result: dict[str, dict[str, str]] = {}
    for translation in _model(form).iter(f"{XF}translation"):
        result[translation.attrib["lang"]] = {
            text.attrib["id"]: "".join(text.itertext()) for text in translation.iter(f"{XF}text")
        }
    return result


def _binds(form: FindForm) -> dict[str, dict[str, str]]:
    return {
        bind.attrib["nodeset"].rsplit("/", 1)[-1]: bind.attrib
        for bind in _model(form).iter(f"{XF}bind")
    }


def test_the_form_asks_every_wire_field_with_the_wire_names(reference: FormReference) -> None:
    form = build_find_form(reference)
    instance = _model(form).find(f"{XF}instance/{XF}find")
    assert instance is not None
    assert instance.attrib == {"id": FORM_ID, "version": form.version}
    names = [child.tag.removeprefix(XF) for child in instance]
    for name in WIRE_FIELDS:
        assert name in names
    photos = instance.find(f"{XF}photos")
    assert photos is not None and photos.find(f"{XF}photo") is not None
    binds = _binds(form)
    assert binds["position"]["type"] == "geopoint"
    assert binds["position"]["required"] == "true()"
    assert binds["photo"]["type"] == "binary"
    assert binds["instanceID"]["{http://openrosa.org/javarosa}preload"] == "uid"
    assert form.form_id == FORM_ID
    assert form.title == f"{EXPEDITION} · Ұлытау археологиялық экспедициясы 2026"


def test_the_constraints_that_help_in_a_trench(reference: FormReference) -> None:
    binds = _binds(build_find_form(reference))
    assert binds["quantity"]["type"] == "int"
    assert binds["quantity"]["constraint"] == ". >= 1 and . <= 1000000"
    for name in ("weight_g", "length_mm", "width_mm", "height_mm"):
        assert binds[name]["type"] == "decimal"
        assert binds[name]["constraint"].startswith(". >= 0 and ")
    assert binds["found_on"]["constraint"] == ". <= today()"
    # the expedition's threshold is 5 m; ODK's geopoint is "lat lon altitude accuracy"
    assert binds["poor_accuracy"]["relevant"] == (
        " /find/position  != '' and selected-at( /find/position , 3) > 5"
    )


def test_no_threshold_no_accuracy_warning(reference: FormReference) -> None:
    form = build_find_form(dataclasses.replace(reference, accuracy_threshold_m=None))
    assert "poor_accuracy" not in _binds(form)


def test_found_on_defaults_to_today(reference: FormReference) -> None:
    setvalue = _model(build_find_form(reference)).find(f"{XF}setvalue")
    assert setvalue is not None
    assert setvalue.attrib["ref"] == "/find/found_on"
    assert setvalue.attrib["value"] == "today()"


def test_kazakh_first_with_russian_and_english(reference: FormReference) -> None:
    form = build_find_form(reference)
    translations = _translations(form)
    assert list(translations) == ["Kazakh (kk)", "Russian (ru)", "English (en)"]
    default = [t.attrib["lang"] for t in _model(form).iter(f"{XF}translation") if t.get("default")]
    assert default == ["Kazakh (kk)"]
    kk, ru, en = translations.values()
    assert kk.keys() == ru.keys() == en.keys()
    assert all(text.strip() for language in (kk, ru, en) for text in language.values())
    assert kk["/find/material:label"] == "Материал"
    assert kk["/find/found_on:label"] == "Табылған күні"
    assert ru["/find/found_on:label"] == "Дата находки"
    assert en["/find/found_on:label"] == "Found on"
    # the material vocabulary with its own labels in each language
    assert "Мыс қорытпасы" in kk.values()
    assert "Медный сплав" in ru.values()
    assert "Copper alloy" in en.values()
    # the sites' Kazakh names, in every language
    for language in (kk, ru, en):
        assert "DMB — Домбауыл кесенесі (мавзолей Домбаул)" in language.values()


def test_the_choice_lists(reference: FormReference) -> None:
    choices = find_form_definition(reference)["choices"]
    by_list: dict[str, list[str]] = {}
    for row in choices:
        by_list.setdefault(row["list_name"], []).append(row["name"])
    assert by_list["sites"] == [site.code for site in reference.sites]
    assert by_list["kinds"] == ["small_find", "bulk", "sample"]
    assert by_list["materials"] == [code for code, _ in reference.materials]


def test_an_expedition_without_sites_has_no_site_question(reference: FormReference) -> None:
    form = build_find_form(dataclasses.replace(reference, sites=()))
    assert "site_code" not in _binds(form)


def test_the_version_follows_the_reference(reference: FormReference) -> None:
    version = form_version(reference)
    assert version == form_version(FormReference.from_reference(reference_document(), EXPEDITION))
    assert build_find_form(reference).xml == build_find_form(reference).xml

    site_added = dataclasses.replace(reference, sites=(*reference.sites, KAZAKH_SITE))
    renamed = dataclasses.replace(
        reference,
        sites=(dataclasses.replace(reference.sites[0], name="Домбауыл"), *reference.sites[1:]),
    )
    code, labels = reference.materials[0]
    relabelled = dataclasses.replace(
        reference,
        materials=((code, {**labels, "kk": "Қыш"}), *reference.materials[1:]),
    )
    stricter = dataclasses.replace(reference, accuracy_threshold_m=3.0)
    versions = {form_version(r) for r in (site_added, renamed, relabelled, stricter)}
    assert len(versions) == 4 and version not in versions
    for changed in (site_added, relabelled):
        form = build_find_form(changed)
        assert form.version == form_version(changed)
        assert f'version="{form.version}"' in form.xml.decode()
        assert form.hash != build_find_form(reference).hash


def test_the_form_list(reference: FormReference) -> None:
    form = build_find_form(reference)
    base = "https://museum.example/odk/key/k3y/ULY-2026/"
    entry = form_list_entry(form, base)
    assert entry.download_url == "https://museum.example/odk/key/k3y/ULY-2026/forms/qazba_find.xml"
    assert entry.hash.startswith("md5:") and len(entry.hash) == 36
    root = ET.fromstring(form_list_xml([entry]))
    ns = "{http://openrosa.org/xforms/xformsList}"
    assert root.tag == f"{ns}xforms"
    (xform,) = list(root)
    assert {child.tag.removeprefix(ns): child.text for child in xform} == {
        "formID": "qazba_find",
        "name": form.title,
        "version": form.version,
        "hash": form.hash,
        "downloadUrl": entry.download_url,
    }


def _java_or_skip() -> None:
    if shutil.which("java"):
        return
    if os.environ.get("CI"):
        pytest.fail("java is missing: scripts/install_test_tools.sh installs default-jre-headless")
    pytest.skip("java is missing (scripts/install_test_tools.sh installs default-jre-headless)")


def test_odk_validate_parses_the_form_in_kazakh_russian_and_english(
    reference: FormReference, tmp_path: Path
) -> None:
    """JavaRosa, the engine inside ODK Collect, parses the form with every translation, a
    site named in Kazakh letters (Ә Ғ Қ Ң Ө Ұ Ү Һ І) and its choice code in Cyrillic."""
    _java_or_skip()
    with_kazakh_site = dataclasses.replace(reference, sites=(*reference.sites, KAZAKH_SITE))
    form = build_find_form(with_kazakh_site)
    assert set(_translations(form)) == {"Kazakh (kk)", "Russian (ru)", "English (en)"}
    assert "ҚҰМ — Қызылқұм — Әулиеқұдық, Ңөүһі маңы" in _translations(form)["Kazakh (kk)"].values()
    path = tmp_path / "qazba_find.xml"
    path.write_bytes(form.xml)
    warnings = odk_validate.check_xform(str(path))  # raises ODKValidateError when invalid
    assert warnings == []


def test_odk_validate_is_no_formality(reference: FormReference, tmp_path: Path) -> None:
    """The same check refuses the form once a label names a text no translation has, so the
    test above proves something."""
    _java_or_skip()
    xml = build_find_form(reference).xml.replace(
        b"jr:itext('/find/trench:label')", b"jr:itext('/find/nowhere:label')"
    )
    path = tmp_path / "broken.xml"
    path.write_bytes(xml)
    with pytest.raises(odk_validate.ODKValidateError, match="nowhere"):
        odk_validate.check_xform(str(path))
