package controllers

import (
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	tierwallv1alpha1 "github.com/tierwall/tierwall/api/v1alpha1"
)

// reasonedError carries the condition reason that describes an error.
type reasonedError struct {
	reason string
	err    error
}

func (e *reasonedError) Error() string { return e.err.Error() }
func (e *reasonedError) Unwrap() error { return e.err }

// stalled is an error that retrying cannot fix: the reconcile stops backing
// off and reports Stalled until the spec or the cluster changes.
func stalled(reason string, err error) error {
	return reconcile.TerminalError(&reasonedError{reason: reason, err: err})
}

// retryable is an error that may pass on retry, with the reason to report
// meanwhile.
func retryable(reason string, err error) error {
	return &reasonedError{reason: reason, err: err}
}

// isStalled tells whether err is terminal.
func isStalled(err error) bool {
	return errors.Is(err, reconcile.TerminalError(nil))
}

// describe returns the condition reason and message for an error: the
// reason it carries (ApplyFailed when it has none), and its message without
// controller-runtime's "terminal error" prefix.
func describe(err error) (reason, message string) {
	if r, ok := errors.AsType[*reasonedError](err); ok {
		return r.reason, r.err.Error()
	}
	return tierwallv1alpha1.ApplyFailedReason, err.Error()
}

// writeError classifies a failed write: the API server refusing the object
// as invalid or too large will refuse it again, anything else may pass on
// retry.
func writeError(err error) error {
	if apierrors.IsInvalid(err) || apierrors.IsRequestEntityTooLargeError(err) {
		return stalled(tierwallv1alpha1.ApplyFailedReason, err)
	}
	return retryable(tierwallv1alpha1.ApplyFailedReason, err)
}
