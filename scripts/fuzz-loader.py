#!/usr/bin/env python3
"""Mutation fuzzer for `scompose config`: takes the compose files of the conformance corpus,
mutates their bytes and their YAML structure, and runs `scompose config` on each mutant in a
child process with a time limit and a memory limit. A crash (signal), a hang (time limit) or
running out of the memory limit is a finding; the input is kept under the findings directory.

    scripts/fuzz-loader.py --binary .build/release/scompose --seconds 600
    scripts/fuzz-loader.py --binary ... --corpus ../shared/compose-corpus/public --seed 7

Ends with `N passed, N failed` (failed = findings) and exits 1 when there are findings.
"""
import argparse, os, random, resource, shutil, signal, subprocess, sys, tempfile, time

INTERESTING = [
    b"", b"~", b"null", b"[]", b"{}", b"-1", b"0", b"9999999999999999999999", b"1e309", b".nan", b"yes",
    b"${", b"${A:-${B:-${C}}}", b"$$", b"${X:?boom}", b"!reset", b"!override", b"&a", b"*a", b"<<: *a",
    b"'", b'"', b"\t", b"\\", b"\x00", b"\xff\xfe", b":", b"- ", b"? ", b"|", b">", b"%YAML 1.1", b"---",
    b"...", b"#", b"::::", b"65536:80", b"1-65535:1-65535", b"/", b"..", b"../../../../etc/passwd",
]
KEYS = [b"services", b"image", b"build", b"ports", b"volumes", b"depends_on", b"extends", b"include",
        b"environment", b"env_file", b"networks", b"secrets", b"configs", b"profiles", b"healthcheck",
        b"deploy", b"command", b"x-a", b"name", b"ulimits", b"extra_hosts", b"develop", b"models"]
BOMBS = [
    b"a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    b"g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\n",
    b"[" * 5000 + b"]" * 5000,
    b"{a: " * 3000 + b"1" + b"}" * 3000,
    b"services:\n  s:\n    image: ${" + b"A:-${" * 2000 + b"}" * 2000 + b"\n",
]


def mutate(data, rng):
    data = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(9)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:  # flip a byte
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif op == 1:  # insert an interesting token
            data[pos:pos] = rng.choice(INTERESTING)
        elif op == 2 and data:  # delete a range
            end = min(len(data), pos + rng.randint(1, 40))
            del data[pos:end]
        elif op == 3 and data:  # duplicate a line
            lines = bytes(data).split(b"\n")
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i])
            data = bytearray(b"\n".join(lines))
        elif op == 4:  # change indentation of a line
            lines = bytes(data).split(b"\n")
            i = rng.randrange(len(lines))
            lines[i] = (b" " * rng.randint(0, 8)) + lines[i].lstrip()
            data = bytearray(b"\n".join(lines))
        elif op == 5:  # insert a key
            data[pos:pos] = b"\n" + rng.choice(KEYS) + b": " + rng.choice(INTERESTING) + b"\n"
        elif op == 6:  # swap two lines
            lines = bytes(data).split(b"\n")
            if len(lines) > 1:
                i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
                lines[i], lines[j] = lines[j], lines[i]
            data = bytearray(b"\n".join(lines))
        elif op == 7:  # splice another structure's text
            data[pos:pos] = rng.choice(BOMBS) if rng.random() < 0.05 else rng.choice(KEYS) + b":\n  - " + rng.choice(INTERESTING)
        else:  # truncate
            del data[pos:]
    return bytes(data)


def limit_memory(mb):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (mb << 20, mb << 20))
        os.setsid()
    return apply


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--corpus", default=os.path.join(here, "..", "..", "shared", "compose-corpus", "public"))
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--memory-mb", type=int, default=2048)
    ap.add_argument("--findings", default="fuzz-findings")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    cases = sorted(d for d in os.listdir(a.corpus) if os.path.isdir(os.path.join(a.corpus, d)))
    seeds = []
    for c in cases:
        d = os.path.join(a.corpus, c)
        for f in os.listdir(d):
            if f.endswith((".yaml", ".yml")) and not f.startswith("expected"):
                seeds.append((d, f))
    binary = os.path.abspath(a.binary)
    work = tempfile.mkdtemp(prefix="scompose-fuzz-")
    passed = failed = 0
    deadline = time.time() + a.seconds
    print(f"seed {a.seed}, {len(seeds)} seed files, {a.seconds:.0f}s", flush=True)
    try:
        while time.time() < deadline:
            d, f = rng.choice(seeds)
            case = os.path.join(work, "case")
            shutil.rmtree(case, ignore_errors=True)
            shutil.copytree(d, case)
            target = os.path.join(case, f)
            original = open(target, "rb").read()
            mutant = mutate(original, rng) if rng.random() < 0.97 else rng.choice(BOMBS)
            open(target, "wb").write(mutant)
            argv = [binary, "-f", target, "-p", "fuzz", "config", "--format", rng.choice(["json", "yaml"])]
            env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp/h"}
            verdict = None
            try:
                p = subprocess.run(argv, cwd=case, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   timeout=a.timeout, preexec_fn=limit_memory(a.memory_mb))
                if p.returncode < 0:
                    verdict = "signal %d" % -p.returncode
                elif p.returncode not in (0, 1):
                    verdict = "exit %d" % p.returncode
                elif p.returncode == 1 and not p.stderr.strip():
                    verdict = "exit 1 without a message"
            except subprocess.TimeoutExpired as e:
                verdict = "timeout"
            if verdict:
                failed += 1
                os.makedirs(a.findings, exist_ok=True)
                out = os.path.join(a.findings, "%d-%s" % (failed, f))
                open(out, "wb").write(mutant)
                print("FINDING", verdict, out, flush=True)
            else:
                passed += 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
