package states

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/aliasflow/aliasflow/sandbox/states/asl"
)

// snapshot is the persisted form of the service.
type snapshot struct {
	Machines   []*stateMachine       `json:"stateMachines"`
	Executions []*execution          `json:"executions"`
	Tokens     map[string]*taskToken `json:"tokens"`
}

func sortMachines(ms []*stateMachine) {
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
}

// Snapshot returns the state machines and executions, history and the
// position of running executions included, as JSON.
func (s *Service) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := snapshot{Tokens: s.tokens}
	for _, m := range s.machines {
		snap.Machines = append(snap.Machines, m)
	}
	sortMachines(snap.Machines)
	for _, e := range s.executions {
		snap.Executions = append(snap.Executions, e)
	}
	sort.Slice(snap.Executions, func(i, j int) bool { return snap.Executions[i].ARN < snap.Executions[j].ARN })
	b, err := json.Marshal(snap)
	if err != nil {
		return nil, fmt.Errorf("snapshot step functions: %w", err)
	}
	return b, nil
}

// Restore replaces the service's state with a snapshot and resumes the
// RUNNING executions (see the package comment for how a task resumes).
func (s *Service) Restore(b []byte) error {
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return fmt.Errorf("restore step functions: %w", err)
	}
	machines := map[string]*stateMachine{}
	for _, m := range snap.Machines {
		def, err := asl.Load([]byte(m.Definition))
		if err != nil {
			return fmt.Errorf("restore state machine %s: %w", m.ARN, err)
		}
		m.def = def
		machines[m.ARN] = m
	}
	executions := map[string]*execution{}
	var seq int64
	for _, e := range snap.Executions {
		seq = max(seq, e.Seq)
		def, err := asl.Load([]byte(e.Definition))
		if err != nil {
			return fmt.Errorf("restore execution %s: %w", e.ARN, err)
		}
		e.def = def
		if e.Status == StatusRunning && (e.Cursor == nil || def.States[e.Cursor.State] == nil) {
			return fmt.Errorf("restore execution %s: it is RUNNING but its position is missing", e.ARN)
		}
		executions[e.ARN] = e
	}
	tokens := snap.Tokens
	if tokens == nil {
		tokens = map[string]*taskToken{}
	}

	// Stop what runs now before replacing it.
	s.mu.Lock()
	for _, e := range s.executions {
		if e.cancel != nil {
			e.cancel()
		}
		if e.stopTimeout != nil {
			e.stopTimeout()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.machines, s.executions, s.tokens, s.seq = machines, executions, tokens, seq
	s.closed = false
	for _, e := range executions {
		if e.Status != StatusRunning {
			continue
		}
		if c := e.Cursor; c.Phase == phaseRunning {
			// The Lambda call was in flight: nothing tells whether it
			// finished, so the attempt runs again with a new token.
			if t := tokens[c.Token]; t != nil {
				t.Open = false
			}
			c.Phase, c.Token = phaseAttempt, ""
		}
		s.launch(e)
	}
	s.touch()
	return nil
}
