package metrics

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestEmitWritesEMF(t *testing.T) {
	var out bytes.Buffer
	e := New(&out, func() time.Time { return time.UnixMilli(1700000000000) })
	if err := e.Emit("hello", LeadTime, 42.5, Seconds); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Function string
		Value    float64 `json:"LeadTimeSeconds"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v: %s", err, out.String())
	}
	m := doc.AWS.CloudWatchMetrics
	if doc.AWS.Timestamp != 1700000000000 || len(m) != 1 || m[0].Namespace != Namespace ||
		m[0].Metrics[0].Name != LeadTime || m[0].Metrics[0].Unit != Seconds || doc.Function != "hello" || doc.Value != 42.5 ||
		len(m[0].Dimensions) != 1 || m[0].Dimensions[0][0] != "Function" {
		t.Errorf("EMF document = %s", out.String())
	}
}
