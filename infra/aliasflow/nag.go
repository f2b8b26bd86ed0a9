package aliasflow

import (
	"sort"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// nagReasons maps a cdk-nag rule id to the reason it does not apply; every
// reason is written for a security reviewer.
type nagReasons map[string]string

// suppress records the reasons on c and its children.
func suppress(c constructs.IConstruct, reasons nagReasons) {
	Suppress(c, reasons)
}

// Suppress records cdk-nag suppressions (rule id → reason) on c and its
// children, for an app's own constructs next to aliasflow's.
func Suppress(c constructs.IConstruct, reasons map[string]string) {
	ids := make([]string, 0, len(reasons))
	for id := range reasons {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	list := make([]*cdknag.NagPackSuppression, 0, len(ids))
	for _, id := range ids {
		list = append(list, &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reasons[id])})
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &list, jsii.Bool(true))
}
