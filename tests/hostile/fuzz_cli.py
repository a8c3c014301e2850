#!/usr/bin/env python3
"""Mutation fuzzer for the files the CLI reads: scenarios (`run`, `compare --model all --swarm`,
`replay --swarm --until`), sweep shard JSON lines (`sweep-merge`, from `sweep --json` output in
SHARDS), exercise chapter files (`exercise --root`). Each case runs under a 4 GiB address-space
limit and a 20 s timeout; it reports panics, signals, timeouts, exit codes outside 0..5 and
scenario errors without file:line:column, and keeps those cases in OUT/KIND.
usage: fuzz_cli.py BIN KIND N SEED   (KIND: scenario | compare | replay | merge | exercise)
environment: OUT (default /tmp/streamlab-fuzz), SHARDS (a glob of `sweep --json` outputs)"""
import glob, os, random, re, resource, shutil, subprocess, sys
bin_, kind, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
W = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
out = os.path.join(os.environ.get('OUT', '/tmp/streamlab-fuzz'), kind); os.makedirs(out, exist_ok=True)
NUMS = ['0', '-1', '1', '2', '-9223372036854775808', '9223372036854775807', '18446744073709551615',
        '18446744073709551616', '4294967295', '4294967296', '1e308', '-0', '0.0', 'nan', 'NaN', 'inf',
        '99999999999', '65536', '1000000000', '1_000_000_000_000', '0x10', '"7"', '()', '[]', 'None', 'Some(0)']
JUNK = ['\xff', '\x00', '\u202e', '((((((((((((((((((((', '[[[[[[[[[[[[[[[[[[[[', 'Unknown', 'NaN', '"',
        '/*', '//', 'r#"', ',,', ':', 'Some(', 'true', '"\\u{0}"', '\ud7ff', 'é']
def mutate(s, words):
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        nums = [m.span() for m in re.finditer(r'-?\d[\d_]*(\.\d+)?', s)]
        if op < 0.35 and nums:
            a, b = rng.choice(nums); s = s[:a] + rng.choice(NUMS) + s[b:]
        elif op < 0.42:
            s = s[:rng.randrange(len(s) + 1)]
        elif op < 0.55:
            a = rng.randrange(len(s) + 1); b = min(len(s), a + rng.randint(1, 60)); s = s[:a] + s[b:]
        elif op < 0.68:
            a = rng.randrange(len(s) + 1); b = min(len(s), a + rng.randint(1, 300)); c = rng.randrange(len(s) + 1)
            s = s[:c] + s[a:b] * rng.randint(1, 3) + s[b:]
        elif op < 0.8:
            a = rng.randrange(len(s) + 1); s = s[:a] + rng.choice(words) + s[a:]
        elif op < 0.9:
            a = rng.randrange(len(s) + 1); s = s[:a] + rng.choice(JUNK) * rng.choice([1, 1, 2, 200]) + s[a:]
        else:
            ws = [m.span() for m in re.finditer(r'[A-Za-z_]+', s)]
            if ws:
                a, b = rng.choice(ws); s = s[:a] + rng.choice(words) + s[b:]
    return s
def run(args, cwd=None):
    lim = lambda: resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    try:
        r = subprocess.run([bin_] + args, capture_output=True, timeout=20, preexec_fn=lim, cwd=cwd)
        return r.returncode, r.stderr.decode('utf-8', 'replace')
    except subprocess.TimeoutExpired:
        return 'TIMEOUT', ''
def bad(rc, err):
    return rc == 'TIMEOUT' or rc not in (0, 1, 2, 3, 4, 5) or 'panicked' in err or 'memory allocation' in err
found = 0
from collections import Counter
tally = Counter()
CMDS = {'scenario': ['run', '--seed', '1'], 'compare': ['compare', '--model', 'all', '--swarm', '--seed', '3'], 'replay': ['replay', '--swarm', '--until', '4000', '--seed', '5']}
if kind in CMDS:
    files = sorted(glob.glob(W + '/scenarios/*.ron') + glob.glob(W + '/book/exercises/scenarios/*.ron') + glob.glob(W + '/tests/regressions/*.ron'))
    for i in range(n):
        src = open(rng.choice(files), encoding='utf-8').read()
        words = list(set(re.findall(r'[A-Za-z_]+', src)))
        s = mutate(src, words)
        p = f'{out}/c{seed}-{i}.ron'
        open(p, 'w', encoding='utf-8', errors='surrogatepass').write(s)
        cmd = CMDS[kind]; rc, err = run([cmd[0], p] + cmd[1:]); tally[rc] += 1
        msg = ''
        if bad(rc, err): msg = f'rc={rc} {err[-400:]!r}'
        elif rc == 2 and not re.search(re.escape(os.path.basename(p)) + r':\d+:\d+', err) and 'budget' not in err and 'UTF-8' not in err and 'bytes' not in err:
            msg = f'rc=2 without location: {err[-300:]!r}'
        if msg: found += 1; print(f'{p}: {msg}', flush=True)
        else: os.remove(p)
elif kind == 'merge':
    lines = []
    for f in glob.glob(os.environ.get('SHARDS', '/tmp/streamlab-fuzz/shards/*.jsonl')):
        lines += [l for l in open(f) if l.strip()][:30]
    words = ['seed', 'variant', 'guarantee', 'sink', 'runtime', 'scenario', 'failures', 'null', 'true', '{}', '[]']
    for i in range(n):
        base = rng.sample(lines, min(len(lines), rng.randint(1, 8)))
        text = ''.join(base)
        text = mutate(text, words)
        p = f'{out}/m{seed}-{i}.jsonl'
        open(p, 'w', encoding='utf-8', errors='surrogatepass').write(text)
        rc, err = run(['sweep-merge', p])
        if bad(rc, err): found += 1; print(f'{p}: rc={rc} {err[-400:]!r}', flush=True)
        else: os.remove(p)
elif kind == 'exercise':
    chapters = sorted(glob.glob(W + '/book/exercises/*.ron'))
    for i in range(n):
        root = f'{out}/r{seed}-{i}'
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root + '/book/exercises'); shutil.copytree(W + '/book/exercises/scenarios', root + '/book/exercises/scenarios')
        shutil.copytree(W + '/scenarios', root + '/scenarios')
        for c in chapters: shutil.copy(c, root + '/book/exercises/')
        victim = rng.choice(chapters)
        src = open(victim).read()
        words = list(set(re.findall(r'[A-Za-z_]+', src)))
        open(root + '/book/exercises/' + os.path.basename(victim), 'w', encoding='utf-8', errors='surrogatepass').write(mutate(src, words))
        ids = re.findall(r'id:\s*"([^"]+)"', src)
        results = [run(['exercise', '--root', root, 'list'])]
        if ids: results.append(run(['exercise', '--root', root, 'show', rng.choice(ids)]))
        b = [r for r in results if bad(*r)]
        if b: found += 1; print(f'{root}: {b[0][0]} {b[0][1][-400:]!r}', flush=True)
        else: shutil.rmtree(root)
print(f'{kind}: {n} cases, {found} bad', dict(tally), flush=True)
