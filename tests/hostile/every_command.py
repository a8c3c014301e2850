#!/usr/bin/env python3
"""Hostile input against every command and model (session 16). Deterministic: the same inputs on
every run. Mutates every scenario (scenarios/, book/exercises/scenarios/, tests/regressions/):
truncation at token boundaries, lines deleted and duplicated, numbers at their edges, model
sections of every model with impossible settings, CRLF, BOM, non-UTF-8 bytes, deep nesting, long
strings, and paths that are not regular files; then exercise chapter files and answers, and
`sweep --json` shard files for `sweep-merge`. Each case runs in its own process under a memory cap
(`ulimit -v`) and a time limit, and is reported when it panics, hangs, dies of a signal, goes over
memory, exits with a code outside the table (book/src/reference/exit-codes.md: 4 is a bug), or
refuses a scenario (exit 2) without FILE:LINE:COLUMN: FIELD.

usage: every_command.py BIN [--only KIND[,KIND]] [--jobs N] [--limit-s S]
  KIND: truncate, fields, numbers, models, whole, paths, commands, exercise, merge
environment: OUT (default /tmp/streamlab-hostile): failing cases are kept there, with a tally."""
import zlib, collections, glob, json, os, re, resource, shutil, stat, subprocess, sys, threading

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
MEMORY_CAP_BYTES = 4 << 30
args = sys.argv[1:]
BIN = os.path.abspath(args[0])
ONLY = None
JOBS = 1
LIMIT_S = 20
i = 1
while i < len(args):
    if args[i] == '--only':
        ONLY = args[i + 1].split(','); i += 2
    elif args[i] == '--jobs':
        JOBS = int(args[i + 1]); i += 2
    elif args[i] == '--limit-s':
        LIMIT_S = int(args[i + 1]); i += 2
    else:
        sys.exit(f'unknown argument {args[i]}')
OUT = os.environ.get('OUT', '/tmp/streamlab-hostile')
CASES = os.path.join(OUT, 'cases')
os.makedirs(CASES, exist_ok=True)

I64MIN, I64MAX, U64MAX = '-9223372036854775808', '9223372036854775807', '18446744073709551615'
EDGE_NUMBERS = ['0', '1', '-1', I64MAX, I64MIN, U64MAX, '18446744073709551616', '4294967296', '1e308',
                'NaN', '"NaN"', '0.5', '1_000_000_000_000']


def scenario_files():
    files = sorted(glob.glob(ROOT + '/scenarios/*.ron') + glob.glob(ROOT + '/book/exercises/scenarios/*.ron')
                   + glob.glob(ROOT + '/tests/regressions/*.ron'))
    return [(os.path.relpath(f, ROOT).replace('/', '_')[:-4], open(f, 'rb').read()) for f in files]


NEW_MODELS = ('spark-micro-batch', 'kafka-streams-failover', 'chandy-lamport', 'storm-trident', 'swarm')


def is_new_model(name):
    return any(m in name for m in NEW_MODELS)


TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|//[^\n]*|[A-Za-z_][A-Za-z_0-9]*|-?\d[\d_]*(?:\.\d+)?|\s+|.', re.S)


def token_ends(text):
    return [m.end() for m in TOKEN.finditer(text) if not m.group().isspace()]


def gen_truncate():
    for name, text in scenario_files():
        ends = token_ends(text)
        # Every token boundary of the new models' samples; 12 spread over each other file.
        picks = ends if is_new_model(name) else ends[:: max(1, len(ends) // 12)]
        for end in picks[:-1]:
            yield f'trunc-{name}-{end}', text[:end]


FIELD_LINE = re.compile(rb'^[ \t]+[a-z_]+: .*,[ \t]*\r?$', re.M)
STEP_LINE = re.compile(rb'^[ \t]+[A-Z][A-Za-z]*\(.*\),[ \t]*\r?$', re.M)


def gen_fields():
    for name, text in scenario_files():
        lines = [m for m in FIELD_LINE.finditer(text)] + [m for m in STEP_LINE.finditer(text)]
        for m in lines:
            a, b = m.span()
            b = b + 1 if b < len(text) and text[b:b + 1] == b'\n' else b
            yield f'del-{name}-{a}', text[:a] + text[b:]
            yield f'dup-{name}-{a}', text[:b] + text[a:b] + text[b:]
        # A field's value flipped to another field's value (a string where a number goes).
        for j, m in enumerate(re.finditer(rb'([a-z_]+): (\d[\d_]*)', text)):
            if j % 3 == 0:
                yield f'flip-{name}-{m.start()}', text[:m.start(2)] + b'"x"' + text[m.end(2):]


NUMBER = re.compile(rb'(?<![A-Za-z_\d."-])-?\d[\d_]*(?:\.\d+)?(?![A-Za-z_\d"])')


def gen_numbers():
    for name, text in scenario_files():
        spans = [m.span() for m in NUMBER.finditer(text)]
        # Skip numbers in comments: a number after `//` on its line.
        spans = [(a, b) for a, b in spans if b'//' not in text[text.rfind(b'\n', 0, a) + 1:a]]
        if is_new_model(name):
            values = EDGE_NUMBERS
        else:
            values = ['0', '-1', U64MAX, '1e308']
            spans = spans[:: max(1, len(spans) // 10)]
        for a, b in spans:
            for v in values:
                yield f'num-{name}-{a}-{v.strip(chr(34))}', text[:a] + v.encode() + text[b:]


MODEL_SECTIONS = [
    # Spark: impossible and extreme settings.
    'model: Spark((trigger_ms: 0))',
    'model: Spark((trigger_ms: 0, log_write_ms: 0))',
    'model: Spark((trigger_ms: 1, log_write_ms: 0))',
    'model: Spark((max_records_per_trigger: Some(0)))',
    'model: Spark((max_records_per_trigger: Some(1)))',
    f'model: Spark((max_records_per_trigger: Some({U64MAX})))',
    'model: Spark((trigger_ms: 100000000000))',
    'model: Spark((trigger_ms: 100000000001))',
    'model: Spark((log_write_ms: 100000000000))',
    'model: Spark((checkpoint: false))',
    'model: Spark((checkpoint: "yes"))',
    'model: Spark((trigger_ms: -1))',
    'model: Spark((trigger_ms: NaN))',
    'model: Spark(())',
    'model: Spark',
    'model: Spark((nope: 1))',
    'model: Spark((trigger_ms: 1, trigger_ms: 2))',
    # Kafka Streams.
    'model: KafkaStreams((commit_interval_ms: Some(0)))',
    'model: KafkaStreams((commit_interval_ms: Some(1)))',
    'model: KafkaStreams((commit_interval_ms: Some(100000000000)))',
    'model: KafkaStreams((session_timeout_ms: 0))',
    'model: KafkaStreams((session_timeout_ms: 1))',
    'model: KafkaStreams((transaction_timeout_ms: 0))',
    'model: KafkaStreams((standby_replicas: 4294967295))',
    'model: KafkaStreams((standby_replicas: 1))',
    'model: KafkaStreams((standby_replicas: 999))',
    'model: KafkaStreams((restore_cost_us: 100000000000))',
    'model: KafkaStreams((restore_cost_us: 0))',
    'model: KafkaStreams((guarantee: ExactlyOnceV2, commit_interval_ms: Some(1), transaction_timeout_ms: 1))',
    'model: KafkaStreams((guarantee: ExactlyOnce))',
    'model: KafkaStreams((guarantee: AtMostOnce))',
    'model: KafkaStreams(())',
    'model: KafkaStreams',
    # Storm.
    'model: Storm((ackers: 0))',
    'model: Storm((message_timeout_ms: 0))',
    'model: Storm((max_spout_pending: Some(0)))',
    'model: Storm((trident: Some((batch_ms: 0))))',
    'model: Storm((trident: Some((batch_ms: 1))))',
    'model: Storm((ack_cost_us: 100000000000))',
    'model: Storm((fails: [(bolt: "nope", when: ValueAtLeast(0))]))',
    'model: Flink',
    'model: Flink(())',
    'model: Beam',
]
CHECKPOINT_SECTIONS = [
    'checkpoints: (interval_ms: 1000, mode: ChandyLamport)',
    'checkpoints: (interval_ms: 1, mode: ChandyLamport)',
    'checkpoints: (interval_ms: 1000, mode: ChandyLamport, unaligned: true)',
    'checkpoints: (interval_ms: 1000, mode: ChandyLamport, aligned_checkpoint_timeout_ms: Some(10))',
    'checkpoints: (interval_ms: 1000, mode: ChandyLamport, timeout_ms: 1)',
    'checkpoints: (interval_ms: 1000, mode: ChandyLamport, max_concurrent: 0)',
    'checkpoints: (interval_ms: 1000, mode: AtLeastOnce, unaligned: true)',
    'checkpoints: (interval_ms: 1000, mode: ExactlyOnce, unaligned: true, aligned_checkpoint_timeout_ms: Some(0))',
    'checkpoints: (interval_ms: 1000, mode: ChandyLamport, mode: AtLeastOnce)',
    'checkpoints: (interval_ms: 1000, mode: chandylamport)',
]


def with_section(text, section):
    """`section` in place of the file's own `model:`/`checkpoints:` line, or before `pipeline:`."""
    key = section.split(':')[0].encode()
    m = re.search(rb'^([ \t]*)' + key + rb': .*,[ \t]*\r?$', text, re.M)
    if m and m.group().count(b'(') == m.group().count(b')'):
        return text[:m.start()] + m.group(1) + section.encode() + b',' + text[m.end():]
    m = re.search(rb'^([ \t]*)pipeline:', text, re.M)
    if not m:
        return None
    return text[:m.start()] + m.group(1) + section.encode() + b',\n' + text[m.start():]


def gen_models():
    for name, text in scenario_files():
        if not (is_new_model(name) or name.startswith('scenarios_')):
            continue
        for j, section in enumerate(MODEL_SECTIONS + CHECKPOINT_SECTIONS):
            t = with_section(text, section)
            if t is not None:
                yield f'model-{name}-{j}', t


def gen_whole():
    for name, text in scenario_files():
        yield f'crlf-{name}', text.replace(b'\n', b'\r\n')
        yield f'bom-{name}', b'\xef\xbb\xbf' + text
        yield f'bomcrlf-{name}', b'\xef\xbb\xbf' + text.replace(b'\n', b'\r\n')
        yield f'cr-{name}', text.replace(b'\n', b'\r')
        mid = len(text) // 2
        yield f'ff-{name}', text[:mid] + b'\xff' + text[mid:]
        yield f'nul-{name}', text[:mid] + b'\x00' + text[mid:]
        yield f'utf16-{name}', text.decode('utf-8').encode('utf-16')
        m = re.search(rb'name: "', text)
        if m:
            yield f'longname-{name}', text[:m.end()] + b'n' * (1 << 20) + text[m.end():]
            yield f'escname-{name}', text[:m.end()] + b'\\u{1b}[2J\\r\\n' + text[m.end():]
        m = re.search(rb'Sink\(name: "', text)
        if m:
            yield f'longsink-{name}', text[:m.end()] + b's' * 100_000 + text[m.end():]
    base = open(ROOT + '/scenarios/spark-micro-batch.ron', 'rb').read()
    for depth in (63, 64, 65, 1000, 100_000):
        deep = b'Some(' * depth + b'1' + b')' * depth
        yield f'deep-some-{depth}', base.replace(b'max_ms: 200', b'max_ms: ' + deep, 1)
        yield f'deep-list-{depth}', base.replace(b'faults: [', b'faults: [' + b'[' * depth, 1)
    yield 'empty', b''
    yield 'spaces', b' \n\t\n'
    yield 'comment-only', b'// nothing\n'
    yield 'unclosed-comment', b'/* ' + base
    yield 'huge-whitespace', b' ' * (60 << 20) + base
    yield 'over-size', b' ' * ((64 << 20) + 1)
    yield 'many-faults', base.replace(b'faults: [', b'faults: [' + b'Crash(node: "jm", at: At(7_035), restart_after_ms: Some(2_000)),' * 20_000, 1)
    yield 'many-outcomes', base.replace(b'outcomes: [', b'outcomes: [' + b'(runtime: Spark, guarantee: AtMostOnce, sink: Plain, result: Loss),' * 20_000, 1)


def gen_paths():
    d = os.path.join(OUT, 'paths')
    os.makedirs(d, exist_ok=True)
    fifo = os.path.join(d, 'fifo.ron')
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    link = os.path.join(d, 'zero-link.ron')
    if not os.path.lexists(link):
        os.symlink('/dev/zero', link)
    dangling = os.path.join(d, 'dangling.ron')
    if not os.path.lexists(dangling):
        os.symlink(os.path.join(d, 'nowhere'), dangling)
    unreadable = os.path.join(d, 'unreadable.ron')
    shutil.copy(ROOT + '/scenarios/spark-micro-batch.ron', unreadable)
    os.chmod(unreadable, 0)
    return [d, '/dev/zero', '/dev/null', '/dev/urandom', fifo, link, dangling, unreadable, os.path.join(d, 'missing.ron'),
            '', '-', 'default/..', '\udcff.ron']


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))
    # CPU seconds, not wall time: the machine is shared, and a hang spends CPU (SIGXCPU).
    resource.setrlimit(resource.RLIMIT_CPU, (LIMIT_S, LIMIT_S + 5))


def run(argv, cwd=None, timeout=None):
    try:
        r = subprocess.run([BIN] + argv, capture_output=True, timeout=(timeout or LIMIT_S) * 10, preexec_fn=limit_memory,
                           cwd=cwd or OUT, stdin=subprocess.DEVNULL)
        return r.returncode, r.stderr.decode('utf-8', 'replace'), r.stdout
    except subprocess.TimeoutExpired:
        return 'TIMEOUT', '', b''


def finding(rc, err, path=None, scenario_error=True):
    """What is wrong with this outcome, or None."""
    if rc == 'TIMEOUT':
        return 'hang'
    if rc in (-24, -9):  # SIGXCPU, then SIGKILL at the hard CPU limit
        return f'hang (over {LIMIT_S} CPU s)'
    if rc < 0:
        return f'signal {-rc}' + (' (over memory)' if 'memory allocation' in err else '')
    if 'panicked' in err or rc == 101:
        return 'panic'
    if 'memory allocation' in err:
        return 'over memory'
    if rc not in (0, 1, 2, 3, 5):
        return f'exit {rc}' + (' (invariant violated)' if rc == 4 else '')
    if rc == 2 and scenario_error and path is not None:
        lines = [l for l in err.splitlines() if l.startswith('error: ')]
        if not lines:
            return 'exit 2 without an error line'
        line = lines[0]
        if re.search(re.escape(path) + r':\d+:\d+: (?:\S+|\(top level\)): ', line) is None:
            # File-level refusals name the file but have no line (not a regular file, too large,
            # not UTF-8 names the byte offset), and the budget names its field.
            if path in line and any(w in line for w in ('not a regular file', 'bytes', 'UTF-8', 'budget')):
                return None
            return 'exit 2 without FILE:LINE:COLUMN: FIELD'
        if any(ord(c) < 32 and c != '\t' for c in line):
            return 'control characters in the error line'
    return None


tally = collections.Counter()  # (command, outcome) -> count
findings = []
lock = threading.Lock()


def record(kind, command, case, rc, err, why):
    outcome = 'timeout' if rc == 'TIMEOUT' else f'exit {rc}'
    with lock:
        tally[(kind, command, outcome)] += 1
        if why:
            findings.append((kind, command, case, why, err.strip().splitlines()[-3:] if err else []))
            print(f'FOUND {kind} {command} {case}: {why}: {err.strip()[-300:]!r}', flush=True)


SWEEP_ARGS = ['--seeds', '1..3', '--swarm', '--json']


def check_scenario(kind, name, text):
    path = os.path.join(CASES, f'{name[:150]}.ron')
    with open(path, 'wb') as f:
        f.write(text)
    rc, err, _ = run(['run', path, '--seed', '1'])
    why = finding(rc, err, path)
    record(kind, 'run', name, rc, err, why)
    loaded = rc in (0, 1, 3)
    # Every command on what loads with a model section (their own checks: compare's other models,
    # sweep's swarm, replay's --until) and one in six of the other files that load; what `run`
    # refused, one in twenty through every command (they share the parser).
    pick = zlib.crc32(name.encode())
    if (loaded and (kind == 'models' or pick % 6 == 0)) or (not loaded and pick % 20 == 0):
        commands = [
            ('estimate', ['estimate', path]),
            ('compare', ['compare', path, '--model', 'all', '--swarm', '--seed', '3']),
            ('sweep', ['sweep', path] + SWEEP_ARGS),
            ('replay', ['replay', path, '--swarm', '--until', '4000', '--seed', '5']),
            ('shrink', ['shrink', path, '--seed', '1', '--out', '-']),
        ]
        for command, argv in commands:
            rc2, err2, _ = run(argv)
            why2 = finding(rc2, err2, path)
            if why2 is None and not loaded and rc2 != 2:
                why2 = f'run refused it (exit {rc}) but {command} exits {rc2}'
            record(kind, command, name, rc2, err2, why2)
    if not any(f[2] == name for f in findings):
        os.remove(path)


def run_all(kind, cases):
    cases = list(cases)
    print(f'{kind}: {len(cases)} inputs', flush=True)
    it = iter(cases)
    it_lock = threading.Lock()

    def worker():
        while True:
            with it_lock:
                nxt = next(it, None)
            if nxt is None:
                return
            check_scenario(kind, *nxt)
    threads = [threading.Thread(target=worker) for _ in range(JOBS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def check_paths():
    for p in gen_paths():
        for command, argv in [('run', ['run', p]), ('compare', ['compare', p, '--model', 'all']),
                              ('sweep', ['sweep', p, '--seeds', '1..2']), ('replay', ['replay', p]),
                              ('shrink', ['shrink', p, '--seed', '1', '--out', '-']), ('estimate', ['estimate', p]),
                              ('sweep-merge', ['sweep-merge', p])]:
            try:
                rc, err, _ = run(argv)
            except ValueError:  # a path Python cannot pass
                continue
            why = finding(rc, err, None)
            if why is None and rc not in (2, 5):
                why = f'exit {rc} for a path that is not a scenario file'
            if why is None and p and p not in err and p != '-':
                why = 'the error does not name the path'
            record('paths', command, p, rc, err, why)


def check_commands():
    """Hostile arguments to every command on a good scenario."""
    s = ROOT + '/scenarios/spark-micro-batch.ron'
    k = ROOT + '/scenarios/kafka-streams-failover.ron'
    c = ROOT + '/scenarios/chandy-lamport.ron'
    argvs = []
    for f in (s, k, c):
        argvs += [['run', f, '--seed', U64MAX], ['run', f, '--seed', '-1'], ['run', f, '--seed', 'NaN'],
                  ['run', f, '--format', 'xml'], ['run', f, '--check-determinism', '--swarm', '--seed', '0'],
                  ['compare', f, '--model', 'nope'], ['compare', f, '--model', ''], ['compare', f, '--model', 'all,all'],
                  ['compare', f, '--model', 'spark,kafka-streams,storm,flink', '--json'],
                  ['sweep', f, '--seeds', '0..0'], ['sweep', f, '--seeds', f'{U64MAX}..=0'],
                  ['sweep', f, '--seeds', f'{U64MAX}..={U64MAX}'], ['sweep', f, '--seeds', ',,,'],
                  ['sweep', f, '--seeds', '1,1,1', '--json'], ['sweep', f, '--seeds', '1..3', '--shard', '0/2'],
                  ['sweep', f, '--seeds', '1..3', '--shard', '3/2'], ['sweep', f, '--seeds', '1..3', '--shard', '1/0'],
                  ['sweep', f, '--seeds', '1..3', '--shard', f'1/{U64MAX}'], ['sweep', f, '--jobs', '0'],
                  ['sweep', f, '--jobs', U64MAX, '--seeds', '1..2'],
                  ['replay', f, '--until', U64MAX], ['replay', f, '--until', '0'],
                  ['replay', f, '--until', '1e308'], ['replay', f, '--charts', '/dev/null'],
                  ['replay', f, '--trace', '/dev/null'], ['replay', f, '--trace', f],
                  ['shrink', f, '--seed', U64MAX, '--out', '-'], ['shrink', f, '--seed', '1', '--out', f, '--force'],
                  ['shrink', f, '--seed', '1', '--out', '/dev/null', '--force']]
    for argv in argvs:
        rc, err, _ = run(argv)
        why = finding(rc, err, None)
        record('commands', argv[0], ' '.join(argv[1:]).replace(ROOT + '/', ''), rc, err, why)


def check_exercises():
    chapters = sorted(glob.glob(ROOT + '/book/exercises/*.ron'))
    cases = []
    for c in chapters:
        text = open(c, 'rb').read()
        base = os.path.basename(c)
        ends = token_ends(text)
        for end in ends[:: max(1, len(ends) // 15)][:-1]:
            cases.append((f'ex-trunc-{base}-{end}', base, text[:end]))
        for m in list(NUMBER.finditer(text))[:6]:
            for v in ('0', '-1', U64MAX, '1e308', 'NaN'):
                cases.append((f'ex-num-{base}-{m.start()}-{v}', base, text[:m.start()] + v.encode() + text[m.end():]))
        for m in list(FIELD_LINE.finditer(text))[:12]:
            a, b = m.span()
            cases.append((f'ex-del-{base}-{a}', base, text[:a] + text[b:]))
            cases.append((f'ex-dup-{base}-{a}', base, text[:b] + b'\n' + text[a:b] + text[b:]))
        cases.append((f'ex-bom-{base}', base, b'\xef\xbb\xbf' + text))
        cases.append((f'ex-crlf-{base}', base, text.replace(b'\n', b'\r\n')))
        cases.append((f'ex-ff-{base}', base, text[:len(text) // 2] + b'\xff' + text[len(text) // 2:]))
        for target in (b'"/dev/zero"', b'"/etc/passwd"', b'"../../../../etc/passwd"', b'"book"', b'""',
                       b'"scenarios/spark-micro-batch.ron"', b'"scenarios/kafka-streams-failover.ron"',
                       b'"scenarios/chandy-lamport.ron"', b'"scenarios/storm-trident.ron"'):
            t = re.sub(rb'scenario: "[^"]*"', b'scenario: ' + target, text, count=1)
            cases.append((f'ex-scenario-{base}-{target.decode()[1:-1].replace("/", "_")}', base, t))
    print(f'exercise: {len(cases)} inputs', flush=True)
    root = os.path.join(OUT, 'exroot')
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root + '/book/exercises')
    shutil.copytree(ROOT + '/book/exercises/scenarios', root + '/book/exercises/scenarios')
    shutil.copytree(ROOT + '/scenarios', root + '/scenarios')
    for name, victim, text in cases:
        for c in chapters:
            shutil.copy(c, root + '/book/exercises/')
        with open(os.path.join(root, 'book/exercises', victim), 'wb') as f:
            f.write(text)
        ids = re.findall(rb'id:\s*"([^"]+)"', text)
        argvs = [['exercise', '--root', root, 'list']]
        if ids:
            i = ids[zlib.crc32(name.encode()) % len(ids)].decode('utf-8', 'replace')
            argvs += [['exercise', '--root', root, 'show', i], ['exercise', '--root', root, 'check', i, '0']]
        for argv in argvs:
            rc, err, _ = run(argv)
            why = finding(rc, err, None)
            if why is None and rc == 2 and victim not in err and 'no exercise' not in err and 'answer' not in err:
                why = 'exit 2 without naming the chapter file'
            record('exercise', f'exercise {argv[3]}', name, rc, err, why)
    # Hostile answers to real exercises.
    answers = ['', ' ', '-1', U64MAX, '18446744073709551616', '1e308', 'NaN', 'amo,amo,amo', ',,,', 'x' * 100_000,
               '\u202e', 'amo,alo,eo,' * 10_000, '0x10', '+1', '1_000']
    ids = ['g-1', 'g-3']
    spark_ids = re.findall(r'id:\s*"([^"]+)"', ''.join(open(c).read() for c in chapters if 'choosing' in c or 'end-to-end' in c))[:2]
    for i in ids + spark_ids:
        for a in answers:
            rc, err, _ = run(['exercise', 'check', i, a], cwd=ROOT, timeout=60)
            why = finding(rc, err, None)
            if why is None and rc not in (0, 1, 2):
                why = f'exit {rc} for an answer'
            record('exercise', 'exercise check', f'{i} {a[:20]!r}', rc, err, why)
    for i in ('', ' ', '../g-1', 'g-1\n', 'x' * 10_000):
        rc, err, _ = run(['exercise', 'show', i], cwd=ROOT)
        why = finding(rc, err, None)
        if why is None and rc != 2:
            why = f'exit {rc} for an unknown id'
        record('exercise', 'exercise show', repr(i[:20]), rc, err, why)


def check_merge():
    d = os.path.join(OUT, 'merge')
    os.makedirs(d, exist_ok=True)
    scenario = ROOT + '/scenarios/spark-micro-batch.ron'
    shards = []
    for k, seeds in ((1, '1..5'), (2, '1..5')):
        rc, err, out = run(['sweep', scenario, '--seeds', seeds, '--shard', f'{k}/2', '--json'], timeout=600)
        assert rc in (0, 1), (rc, err)
        p = os.path.join(d, f'shard{k}.jsonl')
        open(p, 'wb').write(out)
        shards.append(out)
    # A long seed list (the `seed_list` field).
    rc, err, out = run(['sweep', ROOT + '/scenarios/storm-word-count.ron', '--seeds', ','.join(str(s) for s in range(1, 40, 3)),
                        '--shard', '1/1', '--json'], timeout=600)
    long_list = out if rc in (0, 1) else b''
    cases = []
    for name, text in (('s1', shards[0]), ('s2', shards[1]), ('long', long_list)):
        ends = token_ends(text)
        for end in ends[:: max(1, len(ends) // 40)][:-1]:
            cases.append((f'trunc-{name}-{end}', [text[:end], shards[1] if name == 's1' else shards[0]]))
        lines = text.splitlines(keepends=True)
        for j, line in enumerate(lines):
            others = lines[:j] + lines[j + 1:]
            cases.append((f'del-{name}-{j}', [b''.join(others), shards[1] if name == 's1' else shards[0]]))
            cases.append((f'dup-{name}-{j}', [b''.join(lines[:j + 1] + [line] + lines[j + 1:]), shards[1] if name == 's1' else shards[0]]))
        for m in list(re.finditer(rb'(?<=[:\[,])-?\d+', text))[:60]:
            for v in (b'0', b'-1', U64MAX.encode(), b'18446744073709551616', b'1e308', b'NaN', b'null', b'"1"'):
                cases.append((f'num-{name}-{m.start()}-{v.decode()}', [text[:m.start()] + v + text[m.end():], shards[1] if name == 's1' else shards[0]]))
        for m in list(re.finditer(rb'"([a-z_]+)":', text))[:40]:
            cases.append((f'key-{name}-{m.start()}', [text[:m.start()] + b'"zz":' + text[m.end():], shards[1] if name == 's1' else shards[0]]))
    cases += [('same-twice', [shards[0], shards[0]]), ('one-only', [shards[0]]), ('empty', [b'']),
              ('empty-lines', [b'\n' * 1000, shards[1]]), ('crlf', [shards[0].replace(b'\n', b'\r\n'), shards[1]]),
              ('bom', [b'\xef\xbb\xbf' + shards[0], shards[1]]), ('ff', [shards[0][:50] + b'\xff' + shards[0][50:], shards[1]]),
              ('deep', [b'[' * 100_000 + b'\n', shards[1]]), ('deep-obj', [b'{"a":' * 100_000 + b'\n', shards[1]]),
              ('long-line', [b'{"seed": 1, "x": "' + b'a' * (80 << 20) + b'"}\n', shards[1]]),
              ('mixed-sweeps', [shards[0], long_list])]
    # The control: the shards as written merge (a merge that refuses them refuses every mutation
    # for that reason alone, and the rest of this part tests nothing).
    rc, err, _ = run(['sweep-merge', os.path.join(d, 'shard1.jsonl'), os.path.join(d, 'shard2.jsonl')])
    record('merge', 'sweep-merge', 'control', rc, err, None if rc in (0, 1) else f'the shards as written do not merge: exit {rc}')
    print(f'merge: {len(cases)} inputs', flush=True)
    for name, texts in cases:
        paths = []
        for j, t in enumerate(texts):
            p = os.path.join(d, f'{name}-{j}.jsonl')
            open(p, 'wb').write(t)
            paths.append(p)
        rc, err, _ = run(['sweep-merge'] + paths)
        why = finding(rc, err, None)
        if why is None and rc == 2 and not any(os.path.basename(p) in err for p in paths) and 'name the shard' not in err:
            why = 'exit 2 without naming the shard file'
        record('merge', 'sweep-merge', name, rc, err, why)
        if why is None:
            for p in paths:
                os.remove(p)
    for p in ('/dev/zero', '/dev/null', d, os.path.join(d, 'missing.jsonl')):
        rc, err, _ = run(['sweep-merge', p, os.path.join(d, 'shard2.jsonl')])
        why = finding(rc, err, None)
        if why is None and rc not in (2, 5):
            why = f'exit {rc}'
        record('merge', 'sweep-merge', p, rc, err, why)


GENERATORS = {'truncate': gen_truncate, 'fields': gen_fields, 'numbers': gen_numbers, 'models': gen_models,
              'whole': gen_whole}
CHECKS = {'paths': check_paths, 'commands': check_commands, 'exercise': check_exercises, 'merge': check_merge}
for kind in ONLY or ['models', 'whole', 'paths', 'commands', 'merge', 'exercise', 'truncate', 'fields', 'numbers']:
    if kind in GENERATORS:
        run_all(kind, GENERATORS[kind]())
    else:
        CHECKS[kind]()

print('\ntally (kind, command, outcome: count):')
for (kind, command, outcome), n in sorted(tally.items()):
    print(f'  {kind:9} {command:16} {outcome:8} {n}')
print(f'{sum(tally.values())} command runs, {len(findings)} findings')
with open(os.path.join(OUT, 'findings.json'), 'w') as f:
    json.dump({'tally': [[*k, n] for k, n in sorted(tally.items())], 'findings': findings}, f, indent=1)
