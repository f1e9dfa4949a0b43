#!/usr/bin/env bash
# The README's main job: builds idledger and replays the stories of docs/behaviour.md §10 from
# Tools/demo/stories.jsonl into a fresh store, printing who merged, who stayed
# apart and which guard decided.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tools/install-deps.sh
swift build --product idledger -c release >/dev/null
idledger="$(swift build --product idledger -c release --show-bin-path)/idledger"
# Everything the demo writes goes under one fresh directory, which it leaves for you to explore.
work="$(mktemp -d -t idledger-demo.XXXXXX)"
store="$work/store"
export IDLEDGER_DB="$store"

if [ -t 1 ]; then bold=$'\033[1m'; plain=$'\033[0m'; else bold=""; plain=""; fi
story() { printf '\n%s== %s%s\n' "$bold" "$1" "$plain"; [ -z "$2" ] || printf '%s\n' "$2"; }
run() { printf '$ idledger %s\n' "$*"; "$idledger" "$@" || true; }

story "The store" "The demo writes its store to $store (kept afterwards: IDLEDGER_DB=$store idledger show 1)."

story "The story file" "Every command of the stories, one JSON object a line (Tools/demo/stories.jsonl):"
# ingest exits 2 because some lines are refused on purpose (the stories show the refusals).
"$idledger" ingest Tools/demo/stories.jsonl >"$work/ingest.txt" || true
paste -d'\n' <(grep -v '^#' Tools/demo/stories.jsonl | grep -v '^$' | sed 's/^/  in:  /') \
    <(sed 's/^/  out: /' "$work/ingest.txt")

story "1. The fitness-club couple" \
"Ann and Bob share the household phone; each has a membership card (external_id, merge-blocking).
They stay two customers; the till scan of the phone alone is refused as ambiguous."
run lookup phone=+442079460958
run explain external_id=M-100 external_id=M-200

story "2. The till customer and the web customer share a phone" \
"Carla logs in at the till with her phone; Dan logs in on the web with his email and later types
Carla's phone at checkout. Merging would hand one account to the other: accessContactsDiffer."
run lookup phone=+15551230001
run explain email=dan@example.com 3

story "3. The import that re-uses a technical ID" \
"A record arrives with technical ID T-9 that already belongs to Erin, but with another login email:
refused with duplicateUniqueIdentifier, naming the owner and the guard, and nothing written."
run show technical_id=T-9

story "4. The update that should have been identify" \
"The website sent Fay's email with update: stored as a property, flagged identifierInProperties,
no merge. The fixed integration identifies with email and cookie, and the profiles merge."
run show email=fay@example.com
run history email=fay@example.com

story "5. The shared browser" \
"Gus and Hana log in on the same browser. The cookie never merges two known people (softIdOnly);
it follows whoever logged in last."
run lookup cookie=family-laptop
run explain email=gus@example.com email=hana@example.com

story "Audit: the duplicates that stay apart and why, the configuration, the integration quality" ""
run audit

story "Time travel: Fay's profile before the fix merged the web visitor into it" ""
run show email=fay@example.com --as-of 13

story "The log: every decision, with the guards that made it" ""
run log
run stats
