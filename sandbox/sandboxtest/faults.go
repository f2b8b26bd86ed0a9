package sandboxtest

import (
	"sync"

	"github.com/aliasflow/aliasflow/sandbox/core"
)

// failQueue holds, by API operation, the errors a service's next calls
// answer instead of doing the operation: the one queue behind
// Lambda.Fail, Promotion.Fail and CodeBuild.Fail. The zero value is empty.
type failQueue struct {
	mu   sync.Mutex
	errs map[string][]*core.APIError
}

// add queues errs for the next calls of op, one call each.
func (q *failQueue) add(op string, errs ...*core.APIError) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.errs == nil {
		q.errs = map[string][]*core.APIError{}
	}
	q.errs[op] = append(q.errs[op], errs...)
}

// next takes the error the call of op answers; nil: none is queued.
func (q *failQueue) next(op string) *core.APIError {
	q.mu.Lock()
	defer q.mu.Unlock()
	errs := q.errs[op]
	if len(errs) == 0 {
		return nil
	}
	q.errs[op] = errs[1:]
	return errs[0]
}

// clear drops what is queued for op.
func (q *failQueue) clear(op string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.errs, op)
}
