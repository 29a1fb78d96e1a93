"""Time `manage.py backup` (and `manage.py restore`) against pg_dump / pg_restore alone.

Usage: .venv/bin/python bench/backup_bench.py [--db medikeep_bench_backup] [--var /tmp/bbench]
           [--vitals 100000] [--medications 10000] [--files 20] [--file-mb 50] [--repeat 1]
           [--skip-seed] [--no-restore]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and /usr/bin/time. It (re)creates the
database only when it is missing, migrates it, tops the rows up with bench/seed.py and writes the
entity files straight into MEDIA_ROOT/files with EntityFile rows (right size and SHA-256, as the
backup checks them). Then each step runs as its own process under `/usr/bin/time -v`, so the
figures are the wall time and peak RSS of that process alone (pg_dump's RSS is pg_dump's, not the
server's). Results print as a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PY = str(REPO_ROOT / ".venv" / "bin" / "python")
PG = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]


def run(cmd: list[str], env: dict, label: str, results: list, check: bool = True) -> None:
    """Run cmd under /usr/bin/time -v and record (label, seconds, peak RSS MiB)."""
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *cmd], env=env, cwd=REPO_ROOT, capture_output=True, text=True
    )
    if check and proc.returncode != 0:
        sys.exit(
            f"{label} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        )
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    secs = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    results.append((label, secs, rss / 1024, proc.returncode))
    if proc.stdout.strip():
        print("  " + proc.stdout.strip().splitlines()[-1][:200])
    print(
        f"{label}: {secs:.1f} s, peak RSS {rss / 1024:.0f} MiB (exit {proc.returncode})", flush=True
    )


def psql(sql: str, db: str = "postgres") -> str:
    out = subprocess.run(["psql", *PG, "-d", db, "-Atc", sql], check=True, capture_output=True)
    return out.stdout.decode().strip()


def seed_files(env: dict, count: int, size_mb: int) -> None:
    """Write `count` random files of size_mb MiB into the files storage, each with its row."""
    code = f"""
import hashlib, os
from django.conf import settings
from files.models import EntityFile
from medikeep.accounts.models import User
from patients.models import Patient
user = User.objects.get(username="bench")
patient = Patient.objects.get(owner=user, is_self_record=True)
root = settings.STORAGES["files"]["OPTIONS"]["location"]
os.makedirs(root, exist_ok=True)
for i in range({count}):
    name = f"bench/backup-{{i:03d}}.bin"
    if EntityFile.objects.filter(stored_name=name).exists():
        continue
    path = os.path.join(root, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for _ in range({size_mb}):
            block = os.urandom(1 << 20)  # incompressible, like scans and photos
            digest.update(block)
            out.write(block)
    EntityFile.objects.create(
        patient=patient, entity_type="patient", entity_id=patient.pk,
        file_name=f"backup-{{i:03d}}.bin", stored_name=name, file_size={size_mb} << 20,
        file_type="application/octet-stream", sha256=digest.hexdigest(), uploaded_by=user)
print(EntityFile.objects.count(), "entity files")
"""
    subprocess.run([PY, "manage.py", "shell", "-c", code], env=env, cwd=REPO_ROOT, check=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="medikeep_bench_backup")
    ap.add_argument("--var", default="/tmp/bbench", help="MEDIKEEP_VAR_DIR of the benchmark")
    ap.add_argument("--vitals", type=int, default=100_000)
    ap.add_argument("--medications", type=int, default=10_000)
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--file-mb", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--skip-seed", action="store_true")
    ap.add_argument("--no-restore", action="store_true")
    args = ap.parse_args(argv)

    var = Path(args.var)
    out_dir = var / "bench-out"
    out_dir.mkdir(parents=True, exist_ok=True)
    url = f"postgres://postgres@127.0.0.1:5432/{args.db}"
    env = {**os.environ, "MEDIKEEP_VAR_DIR": str(var), "DATABASE_URL": url}
    env.pop("BACKUP_AGE_RECIPIENTS", None)
    env.pop("BACKUP_PASSPHRASE", None)

    if not args.skip_seed:
        if psql(f"SELECT 1 FROM pg_database WHERE datname = '{args.db}'") != "1":
            subprocess.run(["createdb", *PG, args.db], check=True)
        subprocess.run([PY, "manage.py", "migrate", "-v0"], env=env, cwd=REPO_ROOT, check=True)
        t0 = time.perf_counter()
        subprocess.run(
            [PY, "bench/seed.py", "--username", "bench", "--password", "bench-Passw0rd!",
             "--medications", str(args.medications), "--vitals", str(args.vitals)],
            env=env, cwd=REPO_ROOT, check=True,
        )  # fmt: skip
        seed_files(env, args.files, args.file_mb)
        print(f"seeded in {time.perf_counter() - t0:.0f} s", flush=True)

    print("load average:", Path("/proc/loadavg").read_text().strip())
    print("database size:", psql(f"SELECT pg_size_pretty(pg_database_size('{args.db}'))"))
    results: list = []
    for r in range(args.repeat):
        dump = out_dir / "plain.pgdump"
        run(["pg_dump", *PG, "--format=custom", "-f", str(dump), args.db], env,
            "pg_dump --format=custom", results)  # fmt: skip
        run([PY, "manage.py", "backup", "--type", "database", "--no-progress",
             "--output", str(out_dir / f"db-{r}.tar")], env, "manage.py backup --type database",
            results)  # fmt: skip
        full = out_dir / f"full-{r}.tar"
        run([PY, "manage.py", "backup", "--type", "full", "--no-progress", "--output", str(full)],
            env, "manage.py backup --type full", results)  # fmt: skip
        run([PY, "manage.py", "verify", str(full), "--no-progress"], env,
            "manage.py verify (full archive)", results)  # fmt: skip
        run(["tar", "-cf", str(out_dir / "files-only.tar"), "-C", str(var / "media"), "files"],
            env, "tar -cf of media/files alone", results)  # fmt: skip
        print("sizes:", {p.name: f"{p.stat().st_size / 2**20:.0f} MiB" for p in out_dir.iterdir()})

        if not args.no_restore:
            scratch = f"{args.db}_pgrestore"
            psql(f'DROP DATABASE IF EXISTS "{scratch}"')
            psql(f'CREATE DATABASE "{scratch}"')
            run(["pg_restore", *PG, "-d", scratch, str(dump)], env,
                "pg_restore into a fresh database", results)  # fmt: skip
            run(["pg_restore", *PG, "--clean", "--single-transaction", "-d", scratch, str(dump)],
                env, "pg_restore --clean --single-transaction", results)  # fmt: skip
            psql(f'DROP DATABASE IF EXISTS "{scratch}"')
            if (REPO_ROOT / "adminops/management/commands/restore.py").exists():
                run([PY, "manage.py", "restore", str(full), "--yes", "--no-progress"], env,
                    "manage.py restore (full archive)", results, check=False)  # fmt: skip
            else:  # the service the command will call, in a process of its own all the same
                code = (
                    "import time; from adminops.models import Backup; "
                    "from adminops.backups.restore import restore_backup; "
                    f"b = Backup.objects.filter(path={str(full)!r}).latest('created_at'); "
                    "t = time.perf_counter(); r = restore_backup(b); "
                    "print('restore_backup', round(time.perf_counter() - t, 1), 's', "
                    "r['rows_restored'], 'rows', r['files'], 'safety', r['safety_backup_id'])"
                )
                run([PY, "manage.py", "shell", "-c", code], env,
                    "restore_backup() via manage.py shell (full archive)", results)  # fmt: skip
        for p in out_dir.glob("*.tar"):
            p.unlink()

    print("\n| step | wall s | peak RSS MiB | exit |\n|---|---:|---:|---:|")
    for label, secs, rss, rc in results:
        print(f"| {label} | {secs:.1f} | {rss:.0f} | {rc} |")
    print("load average after:", Path("/proc/loadavg").read_text().strip())
    shutil.rmtree(out_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
