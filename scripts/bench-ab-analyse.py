#!/usr/bin/env python3
"""Tables and medians of scripts/bench-ab results: python3 scripts/bench-ab-analyse.py OUT/results.tsv ..."""
import sys, statistics as st
def ms(x):
    for u,f in (("us",1e-3),("ms",1),("s",1e3)):
        if x.endswith(u): return float(x[:-len(u)])*f
rows=[]
for p in sys.argv[1:]:
    for l in open(p):
        e,v,r,rps,p50,p99,n,err=l.rstrip("\n").split("\t")
        rows.append(dict(pass_=p.split("/")[-2],e=e,v=v,r=int(r),rps=float(rps),p50=ms(p50),p99=ms(p99),n=int(n),err=err))
for e in ["healthz","me_admin","me_end","check"]:
    print(f"\n### {e}\n")
    print("| pass | round | binary | requests/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---:|---|---:|---:|---:|---:|")
    R=[x for x in rows if x["e"]==e]
    for x in R:
        print(f"| {x['pass_']} | {x['r']} | {x['v']} | {x['rps']:.0f} | {x['p50']:.3f} | {x['p99']:.2f} | {x['n']} |")
    med={}
    for v in ("base","head"):
        xs=[x for x in R if x["v"]==v]
        med[v]={k:st.median([x[k] for x in xs]) for k in ("rps","p50","p99")}
        r=[x["rps"] for x in xs]
        print(f"\n{v}: n={len(xs)} median rps {med[v]['rps']:.0f}, p50 {med[v]['p50']:.3f} ms, p99 {med[v]['p99']:.2f} ms; rps min..max {min(r):.0f}..{max(r):.0f} (spread {100*(max(r)-min(r))/st.median(r):.1f}% of median), CV {100*st.stdev(r)/st.mean(r):.1f}%")
    # paired ratio within each round
    pr=[]
    for p in sorted({x['pass_'] for x in R}):
        for rr in sorted({x['r'] for x in R}):
            b=[x for x in R if x['pass_']==p and x['r']==rr and x['v']=='base']
            h=[x for x in R if x['pass_']==p and x['r']==rr and x['v']=='head']
            if b and h: pr.append(h[0]['rps']/b[0]['rps'])
    print(f"head/base of medians: rps {med['head']['rps']/med['base']['rps']:.3f}, p50 {med['head']['p50']/med['base']['p50']:.3f}, p99 {med['head']['p99']/med['base']['p99']:.3f}")
    print(f"paired per-round head/base rps: median {st.median(pr):.3f}, range {min(pr):.3f}..{max(pr):.3f}, values {' '.join(f'{x:.3f}' for x in pr)}")
