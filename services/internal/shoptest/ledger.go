package shoptest

import (
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite" // the driver the services use, to read their files
)

// AssertNoLeak checks, in the files of the shop whose DATA_DIR is dataDir, that every unit of stock taken since initial is
// sold: available plus the confirmed reservations equals the initial stock, nothing is held, and the
// confirmed reservations and the orders are the same set, key for key.
func AssertNoLeak(t testing.TB, dataDir string, initial map[string]int64) {
	t.Helper()
	inv := openRO(t, dataDir, "inventory")
	ord := openRO(t, dataDir, "orders")
	for sku, was := range initial {
		var available, confirmed, held int64
		query(t, inv, `SELECT available FROM stock WHERE sku = ?`, []any{sku}, &available)
		query(t, inv, `SELECT coalesce(sum(quantity), 0) FROM reservations WHERE sku = ? AND state = 'confirmed'`, []any{sku}, &confirmed)
		query(t, inv, `SELECT count(*) FROM reservations WHERE sku = ? AND state = 'held'`, []any{sku}, &held)
		if available+confirmed != was || held != 0 {
			t.Errorf("%s: %d available + %d confirmed = %d, want %d; %d held", sku, available, confirmed, available+confirmed, was, held)
		}
	}
	confirmed := keys(t, inv, `SELECT reservation_id || ' ' || sku || ' ' || quantity FROM reservations WHERE state = 'confirmed'`)
	ordered := keys(t, ord, `SELECT idempotency_key || ' ' || sku || ' ' || quantity FROM orders`)
	for k := range ordered {
		if !confirmed[k] {
			t.Errorf("order %s has no confirmed reservation", k)
		}
	}
	for k := range confirmed {
		if !ordered[k] {
			t.Errorf("confirmed reservation %s has no order", k)
		}
	}
}

func openRO(t testing.TB, dataDir, service string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, service+".db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func query(t testing.TB, db *sql.DB, q string, args []any, dest ...any) {
	t.Helper()
	if err := db.QueryRow(q, args...).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func keys(t testing.TB, db *sql.DB, q string) map[string]bool {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		out[k] = true
	}
	return out
}

// CountOrders returns how many orders the shop whose DATA_DIR is dataDir stored under key.
func CountOrders(t testing.TB, dataDir, key string) int {
	t.Helper()
	var n int
	query(t, openRO(t, dataDir, "orders"), `SELECT count(*) FROM orders WHERE idempotency_key = ?`, []any{key}, &n)
	return n
}
