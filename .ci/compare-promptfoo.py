"""Verdict agreement between llmops and promptfoo on the same outputs.

Usage: python3 .ci/compare-promptfoo.py LLMOPS PROMPTFOO [FIXTURES]
  LLMOPS     the llmops binary (target/debug/llmops)
  PROMPTFOO  the promptfoo CLI (`npm install promptfoo` into a temporary directory, then
             node_modules/.bin/promptfoo)
  FIXTURES   default tests/fixtures/promptfoo

Each promptfoo example is imported with `llmops import promptfoo`; then, for every case with
deterministic assertions (the kinds below; model-graded ones, cost, latency and similar need a
network provider), both tools judge the same synthetic outputs: a neutral answer, a JSON
object, the assertions' values joined, and the first value. Both tools see the output
"user: <text>": llmops's offline `echo` writes the role, and the promptfoo side uses the prompt
"user: {{out}}" with promptfoo's `echo`. No network provider is used. Needs PyYAML.
Not part of .ci/run: promptfoo is a large npm install.
"""
import json, os, subprocess, sys, glob, shutil, tempfile
import yaml
LL = os.path.abspath(sys.argv[1])
PF = os.path.abspath(sys.argv[2])
FIX = sys.argv[3] if len(sys.argv) > 3 else 'tests/fixtures/promptfoo'
TMP = tempfile.mkdtemp(prefix='llmops-vs-promptfoo-')
DET = {'equals','contains','icontains','contains-any','contains-all','icontains-any','icontains-all',
       'starts-with','regex','is-json','contains-json','levenshtein'}
def det(a):
    return a.get('type','').removeprefix('not-') in DET and 'threshold' not in a
def outputs(asserts):
    vals = []
    for a in asserts:
        v = a.get('value')
        if isinstance(v, str): vals.append(v)
        elif isinstance(v, list): vals.extend(x for x in v if isinstance(x, str))
    outs = ['I do not know.', '{"answer": 42}']
    if vals:
        outs.append(' '.join(vals))
        outs.append(vals[0])
    return outs
rows = []
for src_dir in sorted(glob.glob(os.path.join(FIX, '*/'))):
    name = os.path.basename(src_dir.rstrip('/'))
    d = os.path.join(TMP, 'import', name) + '/'
    shutil.copytree(src_dir, d)
    subprocess.run([LL, 'import', 'promptfoo'], cwd=d, capture_output=True, check=True)
    suite_files = glob.glob(d + 'evals/*.yaml')
    if not suite_files: continue
    suite = yaml.safe_load(open(suite_files[0]))
    s_assert = [a for a in suite.get('assert', []) if det(a)]
    cases = []
    for f in glob.glob(d + 'evals/data/*.jsonl'):
        for l in open(f):
            c = json.loads(l)
            a = [x for x in c.get('assert', []) if det(x)] + s_assert
            if a and not any('{{' in json.dumps(x) for x in a):
                for i, o in enumerate(outputs(a)):
                    cases.append((f"{c['id']}-o{i}", o, a))
    if not cases: continue
    w = os.path.join(TMP, 'compare', name)
    shutil.rmtree(w, ignore_errors=True); os.makedirs(w + '/prompts'); os.makedirs(w + '/evals')
    open(w + '/llmops.yaml', 'w').write('prompts_dir: prompts\nevals_dir: evals\ndefaults: { provider: echo, model: echo }\n')
    open(w + '/prompts/out.prompty', 'w').write('---\nname: out\ninputs:\n  out: { type: string }\n---\nuser:\n{{ out }}\n')
    open(w + '/evals/cmp.jsonl', 'w').write(''.join(json.dumps({'id': i, 'vars': {'out': o}, 'assert': a}) + '\n' for i, o, a in cases))
    open(w + '/evals/cmp.yaml', 'w').write('prompt: out\ndataset: cmp.jsonl\n')
    r = subprocess.run([LL, 'eval', '--format', 'json', '--no-progress'], cwd=w, capture_output=True, text=True)
    try:
        ll = {c['id']: c['passed'] for g in json.loads(r.stdout)['groups'] for c in g['case_results']}
    except Exception:
        print(name, 'llmops failed', r.stderr[:300]); continue
    cfg = {'prompts': ['user: {{out}}'], 'providers': ['echo'],
           'tests': [{'description': i, 'vars': {'out': o}, 'assert': a} for i, o, a in cases]}
    open(w + '/promptfooconfig.yaml', 'w').write(yaml.safe_dump(cfg, allow_unicode=True))
    env = dict(os.environ, PROMPTFOO_DISABLE_TELEMETRY='1', PROMPTFOO_DISABLE_UPDATE='1', PROMPTFOO_CACHE_ENABLED='false', HOME=w)
    r = subprocess.run([PF, 'eval', '-c', 'promptfooconfig.yaml', '-o', 'pf.json', '--no-write', '--no-cache', '--no-table', '--no-progress-bar'], cwd=w, capture_output=True, text=True, env=env, timeout=300)
    try:
        res = json.load(open(w + '/pf.json'))['results']['results']
        pf = {x['testCase']['description']: x['success'] for x in res}
    except Exception:
        print(name, 'promptfoo failed', (r.stdout + r.stderr)[-500:]); continue
    agree = sum(1 for k in ll if k in pf and ll[k] == pf[k])
    diff = [(k, ll[k], pf.get(k)) for k in ll if pf.get(k) != ll[k]]
    rows.append((name, len(ll), agree, diff))
    print(f'{name}: {agree}/{len(ll)} agree', diff[:5])
tot = sum(r[1] for r in rows); ag = sum(r[2] for r in rows)
print(f'TOTAL {ag}/{tot} verdicts agree over {len(rows)} projects')
sys.exit(0 if ag == tot else 1)
