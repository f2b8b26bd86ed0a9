package promotion

// The states of the promotion definition (infra/statemachine/promotion.asl.json).
// Go code names a state only through these constants; TestDefinitionContract
// checks them against the definition. A Fail state's Error is its own name
// (an execution that ends in RolledBack fails with the error "RolledBack").
const (
	StateMode                 = "Mode"
	StateManualRollback       = "ManualRollback"
	StateManuallyRolledBack   = "ManuallyRolledBack"
	StateManualRollbackFailed = "ManualRollbackFailed"
	StateSmokeTest            = "SmokeTest"
	StateSmokePassed          = "SmokePassed"
	StateRestoreStg           = "RestoreStg"
	StateSmokeTestsFailed     = "SmokeTestsFailed"
	StateRequestApproval      = "RequestApproval"
	StateRecordApproval       = "RecordApproval"
	StateRecordRejection      = "RecordRejection"
	StateRejected             = "Rejected"
	StateRecordExpiry         = "RecordExpiry"
	StateApprovalExpired      = "ApprovalExpired"
	StateBeginShift           = "BeginShift"
	StateHasSteps             = "HasSteps"
	StateSetWeight            = "SetWeight"
	StateBake                 = "Bake"
	StateCheckHealth          = "CheckHealth"
	StateMoreSteps            = "MoreSteps"
	StatePause                = "Pause"
	StateRequestStepApproval  = "RequestStepApproval"
	StateContinue             = "Continue"
	StateWarm                 = "Warm"
	StateWarmWait             = "WarmWait"
	StateFinalize             = "Finalize"
	StateCompleted            = "Completed"
	StateRollback             = "Rollback"
	StateRolledBack           = "RolledBack"
	StateRollbackFailed       = "RollbackFailed"
	StateAbort                = "Abort"
	StateAborted              = "Aborted"
)

// Stage is where in the promotion a state lies relative to prod.
type Stage int

// The stages.
const (
	// StageUnknown: not a state of the definition.
	StageUnknown Stage = iota
	// StageBeforeShift: the state can only be entered before BeginShift;
	// prod has not been touched.
	StageBeforeShift
	// StageShift: the state can only be entered once BeginShift has been
	// entered; prod may carry routing for the promotion.
	StageShift
	// StageEither: the state can follow both (Abort); it decides nothing.
	StageEither
)

// States maps every state of the definition to its stage.
var States = map[string]Stage{
	StateSmokeTest: StageBeforeShift, StateSmokePassed: StageBeforeShift, StateRestoreStg: StageBeforeShift,
	StateSmokeTestsFailed: StageBeforeShift, StateRequestApproval: StageBeforeShift, StateRecordApproval: StageBeforeShift,
	StateRecordRejection: StageBeforeShift, StateRejected: StageBeforeShift, StateRecordExpiry: StageBeforeShift,
	StateApprovalExpired: StageBeforeShift,
	StateBeginShift:      StageShift, StateHasSteps: StageShift, StateSetWeight: StageShift, StateBake: StageShift,
	StateCheckHealth: StageShift, StateMoreSteps: StageShift, StatePause: StageShift, StateContinue: StageShift,
	StateRequestStepApproval: StageShift,
	StateWarm:                StageShift, StateWarmWait: StageShift, StateFinalize: StageShift, StateCompleted: StageShift,
	StateRollback: StageShift, StateRolledBack: StageShift, StateRollbackFailed: StageShift,
	StateAbort: StageEither, StateAborted: StageEither,
	// Every execution enters Mode first, before anything moves.
	StateMode: StageBeforeShift,
	// A manual rollback moves prod: whoever reads its history must treat
	// it as a promotion in flight.
	StateManualRollback: StageShift, StateManuallyRolledBack: StageShift, StateManualRollbackFailed: StageShift,
}

// StageOf is the stage of a state name.
func StageOf(state string) Stage { return States[state] }

// TaskActions is the Payload "action" each Task state sends its Lambda.
var TaskActions = map[string]string{
	StateSmokeTest:           ActionSmoke,
	StateRestoreStg:          ActionRestoreStg,
	StateRequestApproval:     ActionRequest,
	StateRecordApproval:      ActionGranted,
	StateRecordRejection:     ActionRejected,
	StateRecordExpiry:        ActionExpired,
	StateBeginShift:          ActionBegin,
	StateSetWeight:           ActionSetWeight,
	StateBake:                ActionBake,
	StateCheckHealth:         ActionCheckHealth,
	StatePause:               ActionPause,
	StateRequestStepApproval: ActionRequest,
	StateContinue:            ActionContinue,
	StateWarm:                ActionWarm,
	StateFinalize:            ActionFinalize,
	StateRollback:            ActionRollback,
	StateAbort:               ActionAbort,
	StateManualRollback:      ActionManualRollback,
}

// WaitStates are the Task states that wait for a task token
// (.waitForTaskToken): an approver's decision and an operator's
// "promote now" answer them.
var WaitStates = []string{StateRequestApproval, StateBake, StatePause}

// ResultPaths is where each Task state that returns something puts its
// result in the State document (State's JSON fields); a Catch puts the
// error at ResultFailure.
var ResultPaths = map[string]string{
	StateSmokeTest:       "$." + ResultSmoke,
	StateRequestApproval: "$." + ResultApproval,
	StateBeginShift:      "$." + ResultShift,
	StateSetWeight:       "$." + ResultShift,
	StateBake:            "$." + ResultBake,
	StateCheckHealth:     "$." + ResultShift,
	StatePause:           "$." + ResultBake,
	StateContinue:        "$." + ResultShift,
	StateWarm:            "$." + ResultShift,
}

// The JSON fields of State that the definition's ResultPaths fill.
const (
	ResultSmoke    = "smoke"
	ResultApproval = "approval"
	ResultShift    = "shift"
	ResultBake     = "bake"
	ResultFailure  = "failure"
)
