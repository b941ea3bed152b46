#!/usr/bin/env bash
# The main job on the embedded default: set up, build the student release from solutions/, run every
# solution notebook at the small size, write and grade the sample submissions, print the gradebook.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/setup.sh"
OUT="${OUT:-runs}"
echo "== 1/5 build the student release (notebooks/ from solutions/)"
# Never --force here: a learner's filled notebook in notebooks/ makes the release refuse, and the job stops.
if ! python -m autograder release; then
    echo "== main.sh stopped at step 1: the release failed (see above). If it REFUSED, notebooks/ is unchanged"
    echo "   and your work in it is intact: copy it to work/ with \`python -m autograder start\`, then"
    echo "   \`python -m autograder release --force\` restores notebooks/ and main.sh runs again."
    exit 1
fi
echo "== 2/5 execute every solution notebook at COURSE_SIZE=$COURSE_SIZE"
python -m autograder execute --out "$OUT/executed"
echo "== 3/5 write the sample submissions"
python -m autograder samples "$OUT/samples"
echo "== 4/5 grade them with the course's grader"
# 30 s per test keeps the infinite-loop samples short; every real hidden test takes a few seconds.
# The samples are the kit's own notebooks, not students' code: where bubblewrap does not work (the grader then
# refuses to grade), grade them with process isolation, saying so (--sandbox process is the explicit consent).
SANDBOX=auto
if ! python -c 'import sys; from autograder.grader.sandbox import bwrap_usable; sys.exit(not bwrap_usable())'; then
    echo "bubblewrap does not work here: grading the kit's own samples with --sandbox process"
    SANDBOX=process
fi
python -m autograder grade "$OUT/samples" --out "$OUT/grades" --workers "${WORKERS:-2}" --test-timeout 30 --force \
    --sandbox "$SANDBOX"
echo "== 5/5 gradebook"
python -m autograder report "$OUT/grades"
