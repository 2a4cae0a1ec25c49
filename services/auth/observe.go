package auth

// FailureReason says why a password check failed. The set is fixed, so it
// can label a metric: it names no account, address or request value.
type FailureReason string

// The reasons a password check fails.
const (
	// FailedUnknownEmail: the email belongs to no account.
	FailedUnknownEmail FailureReason = "unknown_email"
	// FailedWrongPassword: the password (or the current one, when changing
	// it) is wrong.
	FailedWrongPassword FailureReason = "wrong_password"
	// FailedDisabled: the password is right but the account is disabled.
	FailedDisabled FailureReason = "disabled"
	// FailedLocked: the account is locked; the password was not checked.
	FailedLocked FailureReason = "locked"
	// FailedRateLimited: too many attempts from the caller's address.
	FailedRateLimited FailureReason = "rate_limited"
)

// FailureReasons lists every reason, in the order above.
var FailureReasons = []FailureReason{FailedUnknownEmail, FailedWrongPassword, FailedDisabled, FailedLocked, FailedRateLimited}

// Observer is told of failed password checks and of accounts locked as they
// happen, so that they can be counted. It is told nothing of the account or
// the request, and must return at once.
type Observer interface {
	PasswordCheckFailed(FailureReason)
	AccountLocked()
}

// nopObserver is the Observer of a Service given none.
type nopObserver struct{}

func (nopObserver) PasswordCheckFailed(FailureReason) {}
func (nopObserver) AccountLocked()                    {}

// observerOr is o, or an Observer that does nothing when o is nil.
func observerOr(o Observer) Observer {
	if o == nil {
		return nopObserver{}
	}
	return o
}
