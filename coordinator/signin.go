package coordinator

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/fleetbook/fleetbook/policy"
	"github.com/fleetbook/fleetbook/protocol"
)

// session is a request a console carried for the identity that signed in to it: who the
// request is decided as, and the console that signed it.
type session struct {
	who, via protocol.Identity
}

// sessionKey is the context key of the session of the request a handler answers.
type sessionKey struct{}

// viaOf returns the console that carried the request of ctx for who, or nil when who sent it
// itself. It is only about who: a record about another identity made while answering a
// console's request (a schedule's owner, say) names no console.
func viaOf(ctx context.Context, who protocol.Identity) *protocol.Identity {
	s, ok := ctx.Value(sessionKey{}).(session)
	if !ok || who.Key == "" || s.who.Key != who.Key {
		return nil
	}
	via := s.via
	return &via
}

// signIn decides the request of who, which identify verified, when its headers carry a session
// grant (protocol.SessionHeader): it returns the identity the request is then decided as (the
// grant's) and ctx carrying the session, so that every audit record of the request names the
// console (viaOf). Without a grant it returns who and ctx unchanged.
//
// A grant is refused (FORBIDDEN, audited, nothing done) on an unsigned request, when it does not
// verify at now (VerifySessionGrant), and when the policy does not give who the console action.
// A grant of a key the policy does not name is not refused here: it is decided as any unknown
// key is, and refused by the handler's first question to the policy.
func (c *Coordinator) signIn(ctx context.Context, who protocol.Identity, action policy.Action, h micro.Headers, now time.Time) (protocol.Identity, context.Context, *protocol.ErrorResponse) {
	token := h.Get(protocol.SessionHeader)
	if token == "" {
		return who, ctx, nil
	}
	refuse := func(action policy.Action, reason string) (protocol.Identity, context.Context, *protocol.ErrorResponse) {
		c.auditRefusal(ctx, protocol.AuditRecord{
			Version: protocol.AuditVersion, Time: time.Now().UTC(), Identity: who, Action: string(action),
			Decision: protocol.DecisionDeny, Reason: reason, Coordinator: c.opts.name,
		})
		return who, ctx, apiError(protocol.CodeForbidden, "forbidden: %s", reason)
	}
	if who.Key == "" {
		// The grant is not bound to a console's signature: whoever copied it could replay it.
		return refuse(action, fmt.Sprintf("header %s on an unsigned request: a console signs every request it carries a grant on", protocol.SessionHeader))
	}
	grant, err := VerifySessionGrant(token, now)
	if err != nil {
		return refuse(action, fmt.Sprintf("header %s: %v", protocol.SessionHeader, err))
	}
	if d := c.decide(who, policy.Console, nil); !d.Allowed {
		return refuse(policy.Console, fmt.Sprintf("%s may not act for the identity that signed in to it (%s): %s", who, grant.Key, d.Reason))
	}
	user := protocol.Identity{Name: c.nameOf(grant.Key), Key: grant.Key}
	return user, context.WithValue(ctx, sessionKey{}, session{who: user, via: who}), nil
}
