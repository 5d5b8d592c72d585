# Sourced by scripts/bench-parts/*: what every capability's figures share.
# emit CAPABILITY FIGURE TARGET VALUE BASELINE LIMIT MET ROUNDS LOAD COMMAND
#   prints one result line (MET: true, false or null).
emit() {
  python3 -c 'import json,sys
a=sys.argv[1:]
print(json.dumps(dict(capability=a[0], figure=a[1], target=a[2], value=a[3], baseline=a[4],
  limit=a[5], met=json.loads(a[6]), rounds=int(a[7]), load=a[8], command=a[9]), ensure_ascii=False))' "$@"
}
# load1: the 1-minute load average now.
load1() { cut -d' ' -f1 /proc/loadavg; }
