#!/usr/bin/env python3
"""Writes the release manifest and the SBOM of an OfflineSigner release into its staged tree.

Called by scripts/release.sh (see there). Standard library only; the output depends on nothing but its inputs
(sorted keys and lists, times from SOURCE_DATE_EPOCH, a serial number derived from the commit), so that two builds
of one commit write the same bytes.

release-manifest.json ("offline-signer-release-manifest/1"):
  name, version, commit, source_date_epoch, runtime_identifier, debian_architecture
  dotnet      {"sdk", "runtime", "frameworks": [{"name", "version"}]}    from the SDK and the publish's deps.json
  packages    [{"id", "version", "content_sha512", "scope", "used_by"}]  every NuGet package of every lock file in
              the programs' project graph; scope "runtime" when installed with the programs, "build" otherwise
  runtime_packs [{"id", "version", "content_sha512"}]                  the runtime packs the publish bundled
  debian_control {"FILE": sha256}                                       maintainer scripts and conffiles
  files       [{"path", "sha256", "size", "mode"} or {"path", "symlink"}] every file of the installed tree except
              the manifest itself, paths relative to / (the SBOM is one of them)
The manifest's own SHA-256 identifies the release: the programs print it for --version and the daemon records it.

The SBOM is CycloneDX 1.5 JSON: the package as the described component, the two programs and our libraries with
the SHA-256 of the installed assemblies, every NuGet package and runtime pack with its SHA-512 and package URL,
and the dependency graph from the lock files.
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import stat
import sys
import uuid


def fail(message):
    print("release_manifest: error: " + message, file=sys.stderr)
    sys.exit(1)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def b64_to_hex(value):
    return base64.b64decode(value).hex()


def read_json(path):
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"))


def write_json(path, value):
    data = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    with open(path, "wb") as f:
        f.write(data.encode("utf-8"))


def project_dirs(repo):
    """src/<Project>/ folders by lower-case project name (the lock files name projects in lower case)."""
    src = os.path.join(repo, "src")
    return {d.lower(): os.path.join(src, d) for d in os.listdir(src) if os.path.isfile(os.path.join(src, d, d + ".csproj"))}


def lock_graph(repo, roots):
    """Walks the lock files from the programs' projects: {project: lock target 'net10.0'} for the whole graph."""
    dirs = project_dirs(repo)
    graph = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in graph:
            continue
        directory = dirs.get(name.lower())
        if directory is None:
            fail("no src/ folder for project " + name)
        lock_path = os.path.join(directory, "packages.lock.json")
        if not os.path.isfile(lock_path):
            fail("no packages.lock.json in " + directory)
        lock = read_json(lock_path)
        targets = lock.get("dependencies", {})
        frameworks = [t for t in targets if "/" not in t]
        if len(frameworks) != 1:
            fail(f"{lock_path}: expected one target framework, found {frameworks}")
        graph[os.path.basename(directory)] = targets[frameworks[0]]
        for dep, entry in targets[frameworks[0]].items():
            if entry.get("type") == "Project":
                pending.append(dep)
    return graph, dirs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stage", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--commit", required=True)
    ap.add_argument("--epoch", required=True, type=int)
    ap.add_argument("--rid", required=True)
    ap.add_argument("--arch", required=True)
    ap.add_argument("--sdk", required=True)
    ap.add_argument("--deps-json", action="append", required=True)
    ap.add_argument("--nuget-packages", default=os.environ.get("NUGET_PACKAGES") or os.path.expanduser("~/.nuget/packages"))
    ap.add_argument("--licenses", required=True, help="folder of the tree for the runtime packs' license texts and notices")
    ap.add_argument("--sbom", required=True)
    ap.add_argument("--manifest", required=True)
    args = ap.parse_args()

    # --- what the publish bundled (deps.json) ---------------------------------------------------------------
    shipped = {}        # package id (lower) -> version
    runtime_packs = {}  # pack id -> version
    programs = {}       # program assembly name -> its direct dependencies (names)
    for path in args.deps_json:
        deps = read_json(path)
        target_name = deps["runtimeTarget"]["name"]
        target = deps["targets"][target_name]
        program = os.path.basename(path)[: -len(".deps.json")]
        for key, library in deps["libraries"].items():
            lib_id, lib_version = key.split("/", 1)
            kind = library.get("type")
            if kind == "runtimepack":
                runtime_packs[lib_id.removeprefix("runtimepack.")] = lib_version
            elif kind == "package":
                shipped[lib_id.lower()] = lib_version
        entry = target.get(f"{program}/{args.version}")
        if entry is None:
            fail(f"{path}: no entry for {program}/{args.version}")
        programs[program] = dict(entry.get("dependencies", {}))

    frameworks = []
    for pack, version in sorted(runtime_packs.items()):
        framework = pack.rsplit(".Runtime.", 1)[0]
        frameworks.append({"name": framework, "version": version})
    runtime = runtime_packs.get(f"Microsoft.NETCore.App.Runtime.{args.rid}")
    if runtime is None:
        fail("the publish bundled no Microsoft.NETCore.App runtime pack: is it self-contained?")

    # --- what the lock files pin ----------------------------------------------------------------------------
    graph, _ = lock_graph(args.repo, ["OfflineSigner.Daemon", "OfflineSigner.Cli"])
    packages = {}
    for project, entries in sorted(graph.items()):
        for dep, entry in entries.items():
            if entry.get("type") == "Project":
                continue
            key = (dep, entry["resolved"])
            item = packages.setdefault(key, {
                "id": dep,
                "version": entry["resolved"],
                "content_sha512": b64_to_hex(entry["contentHash"]),
                "used_by": set(),
            })
            if item["content_sha512"] != b64_to_hex(entry["contentHash"]):
                fail(f"{dep} {entry['resolved']} has two content hashes in the lock files")
            item["used_by"].add(project)
    for (dep, version), item in packages.items():
        item["scope"] = "runtime" if shipped.get(dep.lower()) == version else "build"
        item["used_by"] = sorted(item["used_by"])
    for dep, version in shipped.items():
        if not any(k[0].lower() == dep and k[1] == version for k in packages):
            fail(f"the publish contains {dep} {version}, which no lock file pins")

    # The runtime packs' own license texts and third-party notices travel with the runtime they describe.
    licenses = os.path.join(os.path.abspath(args.stage), args.licenses)
    os.makedirs(licenses, exist_ok=True)
    os.chmod(licenses, 0o755)
    packs = []
    for pack, version in sorted(runtime_packs.items()):
        folder = os.path.join(args.nuget_packages, pack.lower(), version)
        sha_file = os.path.join(folder, f"{pack.lower()}.{version}.nupkg.sha512")
        if not os.path.isfile(sha_file):
            fail(f"runtime pack {pack} {version} is not in {args.nuget_packages}")
        with open(sha_file, "r", encoding="ascii") as f:
            packs.append({"id": pack, "version": version, "content_sha512": b64_to_hex(f.read().strip())})
        short = "aspnetcore" if pack.startswith("Microsoft.AspNetCore.") else "dotnet-runtime"
        for wanted in ("LICENSE.TXT", "THIRD-PARTY-NOTICES.TXT"):
            found = [n for n in sorted(os.listdir(folder)) if n.upper() == wanted]
            if not found:
                fail(f"runtime pack {pack} {version} has no {wanted}")
            with open(os.path.join(folder, found[0]), "rb") as src, open(os.path.join(licenses, f"{short}-{wanted}"), "wb") as dst:
                dst.write(src.read())
            os.chmod(os.path.join(licenses, f"{short}-{wanted}"), 0o644)

    # --- the SBOM -----------------------------------------------------------------------------------------
    stage = os.path.abspath(args.stage)
    lib = os.path.join(stage, "usr", "lib", args.name)
    timestamp = datetime.datetime.fromtimestamp(args.epoch, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    main_ref = f"pkg:deb/{args.name}@{args.version}?arch={args.arch}"

    def assembly_hash(file_name):
        path = os.path.join(lib, file_name)
        if not os.path.isfile(path):
            fail("the publish lacks " + file_name)
        return [{"alg": "SHA-256", "content": sha256_file(path)}]

    components = []
    dependencies = []
    for program, direct in sorted(programs.items()):
        ref = f"program:{program}"
        components.append({
            "type": "application", "bom-ref": ref, "name": program, "version": args.version,
            "hashes": assembly_hash(program + ".dll"),
        })
        depends = []
        for name, version in direct.items():
            if name.startswith("runtimepack."):
                depends.append(f"pkg:nuget/{name.removeprefix('runtimepack.')}@{version}")
            elif name in graph:
                depends.append(f"project:{name}")
            else:
                depends.append(f"pkg:nuget/{name}@{version}")
        dependencies.append({"ref": ref, "dependsOn": sorted(set(depends))})
    for project, entries in sorted(graph.items()):
        if project in ("OfflineSigner.Daemon", "OfflineSigner.Cli"):
            continue
        ref = f"project:{project}"
        components.append({
            "type": "library", "bom-ref": ref, "name": project, "version": args.version,
            "hashes": assembly_hash(project + ".dll"),
        })
        direct = []
        for dep, entry in entries.items():
            if entry.get("type") == "Project":
                direct.append(f"project:{os.path.basename(project_dirs(args.repo)[dep.lower()])}")
            elif entry.get("type") == "Direct":
                direct.append(f"pkg:nuget/{dep}@{entry['resolved']}")
        dependencies.append({"ref": ref, "dependsOn": sorted(direct)})
    for (dep, version), item in sorted(packages.items()):
        purl = f"pkg:nuget/{dep}@{version}"
        components.append({
            "type": "library", "bom-ref": purl, "name": dep, "version": version, "purl": purl,
            "scope": "required" if item["scope"] == "runtime" else "excluded",
            "hashes": [{"alg": "SHA-512", "content": item["content_sha512"]}],
        })
    for p in packs:
        purl = f"pkg:nuget/{p['id']}@{p['version']}"
        components.append({
            "type": "framework", "bom-ref": purl, "name": p["id"], "version": p["version"], "purl": purl,
            "scope": "required", "hashes": [{"alg": "SHA-512", "content": p["content_sha512"]}],
        })
    dependencies.append({"ref": main_ref, "dependsOn": sorted(f"program:{p}" for p in programs)})
    known = {c["bom-ref"] for c in components} | {main_ref}
    for d in dependencies:
        for target in d["dependsOn"]:
            if target not in known:
                fail(f"SBOM dependency {d['ref']} -> {target} names no component")

    sbom = {
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{main_ref}#{args.commit}")),
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": {"components": [{"type": "application", "name": "scripts/release.sh", "version": args.version}]},
            "component": {
                "type": "application", "bom-ref": main_ref, "name": args.name, "version": args.version, "purl": main_ref,
                "description": "hardware-backed offline signing service for TUF metadata",
                "properties": [
                    {"name": "offline-signer:commit", "value": args.commit},
                    {"name": "offline-signer:dotnet-runtime", "value": runtime},
                    {"name": "offline-signer:dotnet-sdk", "value": args.sdk},
                    {"name": "offline-signer:runtime-identifier", "value": args.rid},
                ],
            },
        },
        "components": components,
        "dependencies": sorted(dependencies, key=lambda d: d["ref"]),
    }
    sbom_path = os.path.join(stage, args.sbom)
    os.makedirs(os.path.dirname(sbom_path), exist_ok=True)
    write_json(sbom_path, sbom)
    os.chmod(sbom_path, 0o644)

    # --- the manifest: every file of the tree (the SBOM included), then the manifest itself ----------------
    manifest_rel = args.manifest
    files = []
    for directory, dirnames, filenames in os.walk(stage):
        dirnames.sort()
        for name in filenames:
            full = os.path.join(directory, name)
            rel = os.path.relpath(full, stage)
            if rel == manifest_rel:
                continue
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                files.append({"path": rel, "symlink": os.readlink(full)})
            elif stat.S_ISREG(st.st_mode):
                files.append({"path": rel, "sha256": sha256_file(full), "size": st.st_size, "mode": "%04o" % stat.S_IMODE(st.st_mode)})
            else:
                fail("not a file or symlink: " + rel)
    files.sort(key=lambda f: f["path"])

    control = {}
    for name in sorted(os.listdir(args.control)):
        if name in ("postinst", "prerm", "postrm", "preinst", "conffiles"):
            control[name] = sha256_file(os.path.join(args.control, name))

    manifest = {
        "format": "offline-signer-release-manifest/1",
        "name": args.name,
        "version": args.version,
        "commit": args.commit,
        "source_date_epoch": args.epoch,
        "runtime_identifier": args.rid,
        "debian_architecture": args.arch,
        "dotnet": {"sdk": args.sdk, "runtime": runtime, "frameworks": frameworks},
        "packages": [packages[k] for k in sorted(packages)],
        "runtime_packs": packs,
        "debian_control": control,
        "sbom": args.sbom,
        "files": files,
    }
    manifest_path = os.path.join(stage, manifest_rel)
    write_json(manifest_path, manifest)
    os.chmod(manifest_path, 0o644)
    print(f"release_manifest: {len(files)} files, {len(packages)} packages, {len(packs)} runtime packs; "
          f"manifest sha256 {sha256_file(manifest_path)}")


if __name__ == "__main__":
    main()
