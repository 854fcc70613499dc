# personal_toy.sh — sourced by tests/personal.sh and tests/personal_mix.sh (after
# lib.sh): the LEAF toy both pin against tests/personal_reference.awk (clients of
# 10, 5, 4 and 2 copies of one sample each, a quarter of each held out), its suite
# $TMP/s.conf, and the helpers run, rows_match and same.
REF=$HETFL_SRCDIR/tests/personal_reference.awk
printf '0 10 1.0 -0.5 0\n1 5 0.25 0.75 2\n2 4 -1.0 0.5 1\n3 2 0.5 0.5 2\n' > "$TMP/clients"
leaf_json 2 < "$TMP/clients" > "$TMP/train.json"
printf '{"users": ["t"], "num_samples": [2], "user_data": {"t": {"x": [[1.0, 0.0], [0.0, 1.0]], "y": [0, 2]}}}\n' \
  > "$TMP/test.json"
cat > "$TMP/s.conf" <<EOS
[run]
seed = 5
[data]
dataset = leaf
path = $TMP/train.json
test_path = $TMP/test.json
partition = natural
client_test_fraction = 0.25
[model]
arch = logreg
[federation]
clients = 4
clients_per_round = 4
rounds = 1
batch_size = 2
lr = 0.5
EOS
run() { local out=$1; shift; "$HETFL" run "$TMP/s.conf" --quiet -o "$TMP/$out.h5" "$@" > "$TMP/$out.log" 2>&1 ||
          { cat "$TMP/$out.log"; return 1; }; }
# rows_match FILE REF_OUT: /client_eval (samples, accuracy, loss) of the last round = the reference's
rows_match() {
  paste -d ' ' <(cols -x "$1" /client_eval samples accuracy loss | tail -4) "$2" | awk '
    { n++; if ($1 != $5) { bad = 1; print "  client " NR - 1 ": samples " $1 ", reference " $5 }
      if ($5 == 0) { if ($2 != "nan" || $3 != "nan") { bad = 1; print "  client " NR - 1 ": not NaN" } next }
      if ($2 != $6) { bad = 1; print "  client " NR - 1 ": accuracy " $2 ", reference " $6 }
      d = $3 - $7; if (d < 0) d = -d
      if (d > 1e-5 + 1e-5 * $7) { bad = 1; print "  client " NR - 1 ": loss " $3 ", reference " $7 } }
    END { exit bad || n != 4 }'
}
# same A B: hetfl compare, and /client_eval equal (h5diff passes tables of different lengths as "not comparable")
same() { "$HETFL" compare "$1" "$2" > /dev/null && [ "$(nrows "$1" /client_eval)" = "$(nrows "$2" /client_eval)" ] &&
         h5diff "$1" "$2" /client_eval /client_eval; }
