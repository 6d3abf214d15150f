package auth

import (
	"fmt"
	"slices"

	"github.com/nats-io/jwt/v2"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/protocol"
)

// Role is what a credential lets its holder do. The server enforces it: a role's user JWT
// carries publish and subscribe allow and deny lists drawn from the subjects, streams and
// buckets that role really uses.
type Role string

const (
	// RoleOperator is a person or a tool driving fleetbook through its API: submit, follow, show,
	// cancel and prune runs, read the audit log. It reaches no stream or bucket directly, except
	// the events stream it follows.
	RoleOperator Role = "operator"
	// RoleViewer reads runs through the API and follows their events; it can submit, cancel or
	// prune nothing.
	RoleViewer Role = "viewer"
	// RoleConsole is a web console (`fleetbook console`): it calls the API, for the identities
	// that signed in to it (the policy's console action), and follows run events, as an
	// operator does; it reaches no other stream and no bucket, and runs no job.
	RoleConsole Role = "console"
	// RoleCoordinator serves the API and drives runs: it provisions and writes fleetbook's
	// streams and buckets. It never talks to nodes and never publishes results.
	RoleCoordinator Role = "coordinator"
	// RoleWorker executes jobs: it pulls from the job stream, publishes results, sends rpc
	// requests to nodes and reads the secrets of the jobs it runs. It cannot submit runs or write
	// run records, node registrations or agent definitions.
	RoleWorker Role = "worker"
	// RoleAgent is one node agent: it answers requests on its own identity's subject only and
	// writes only its own registration.
	RoleAgent Role = "agent"
	// RoleFleet serves many simulated nodes from one process (`fleetbook agent --fleet`,
	// `run --embedded --fleet`): an agent for every identity. It is for simulations and tests;
	// give real machines RoleAgent credentials.
	RoleFleet Role = "fleet"
)

// Roles lists every role, in the order Init issues their credentials. RoleAgent is issued per
// identity by Setup.Issue.
var Roles = []Role{RoleOperator, RoleViewer, RoleConsole, RoleCoordinator, RoleWorker, RoleFleet}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if r == RoleAgent || slices.Contains(Roles, r) {
		return r, nil
	}
	return "", fmt.Errorf("%w %q (one of operator, viewer, console, coordinator, worker, agent, fleet)", ErrUnknownRole, s)
}

// InboxPrefix is the reply-subject prefix of a connection authenticated as user (a public user
// nkey). Each credential may subscribe only under its own prefix, so no holder can read the
// replies meant for another — a coordinator's answers to an operator, a node's to a worker.
func InboxPrefix(user string) string { return "_INBOX." + user }

// The JetStream API subjects the roles are granted, one stream at a time where nats-server lets
// a permission name the stream (its tokens cannot be wildcarded in part, so "KV_*" is not
// expressible: the worker's data-store reach is granted broadly and the internal buckets denied).
const (
	jsAPI           = "$JS.API."
	jsInfo          = jsAPI + "INFO"
	jsStreamInfo    = jsAPI + "STREAM.INFO."
	jsConsumerNew   = jsAPI + "CONSUMER.CREATE."
	jsConsumerDur   = jsAPI + "CONSUMER.DURABLE.CREATE."
	jsConsumerInfo  = jsAPI + "CONSUMER.INFO."
	jsConsumerNext  = jsAPI + "CONSUMER.MSG.NEXT."
	jsConsumerDel   = jsAPI + "CONSUMER.DELETE."
	jsDirectGet     = jsAPI + "DIRECT.GET."
	jsMsgGet        = jsAPI + "STREAM.MSG.GET."
	jsAck           = "$JS.ACK."
	jsFlowControl   = "$JS.FC."
	kvPrefix        = "$KV."
	apiWildcard     = protocol.APIPrefix + ".>"
	cancelWildcard  = "fleetbook.cancel.>"
	serviceWildcard = "$SRV.>"
)

// coordinatorOnlyBuckets are the buckets only coordinators write (and, for secrets, workers read).
var coordinatorOnlyBuckets = []string{protocol.RunsBucket, protocol.SubmissionsBucket, protocol.SecretsBucket,
	protocol.NodesBucket, protocol.AgentsBucket, protocol.SchedulesBucket}

// Permissions returns the permissions of role for the user whose public key is user. identity is
// the node identity of a RoleAgent credential and ignored otherwise.
func Permissions(role Role, user, identity string) (jwt.Permissions, error) {
	var p jwt.Permissions
	inbox := InboxPrefix(user) + ".>"
	switch role {
	case RoleOperator, RoleViewer, RoleConsole:
		// What a console may ask through the API is the policy's business (console and the
		// signed-in identities' rights); on NATS it is an operator without a terminal.
		if role != RoleViewer {
			p.Pub.Allow.Add(apiWildcard)
		} else {
			p.Pub.Allow.Add(protocol.GetRunSubject, protocol.ListRunsSubject,
				protocol.ScheduleGetSubject, protocol.ScheduleListSubject)
		}
		p.Pub.Allow.Add(followEvents()...)
		p.Sub.Allow.Add(inbox)
	case RoleCoordinator:
		p.Pub.Allow.Add(jsAPI+">", jsAck+">", jsFlowControl+">", kvPrefix+">",
			protocol.RunsSubjectWildcard, protocol.JobsSubjectWildcard, protocol.EventsSubjectWildcard,
			cancelWildcard, protocol.AuditSubjectWildcard)
		// Metrics: the pings that count the coordinators and workers alive, and the one its
		// readiness sends to its own API instance. Only pings: no INFO or STATS of other services.
		p.Pub.Allow.Add(servicePing(protocol.ServiceName), servicePing(protocol.ServiceName)+".*",
			servicePing(protocol.WorkerServiceName))
		// Only workers produce results and talk to nodes; a coordinator doing either is a bug or
		// an intruder.
		p.Pub.Deny.Add(protocol.ResultsSubjectWildcard, protocol.NodeRPCSubjectWildcard)
		p.Sub.Allow.Add(apiWildcard, serviceWildcard, cancelWildcard, protocol.ResultsSubjectWildcard, inbox)
		// Replies to what it was asked, with no cap on how many per request: a coordinator serves
		// its API as several micro instances on one connection (8), and each answers a $SRV ping
		// (with one reply allowed, all but the first were refused and the coordinator went
		// uncounted). Unbounded rather than 8, so changing the number of instances cannot break it.
		p.Resp = &jwt.ResponsePermission{MaxMsgs: -1}
	case RoleWorker:
		p.Pub.Allow.Add(protocol.ResultsSubjectWildcard, protocol.NodeRPCSubjectWildcard,
			jsInfo, jsStreamInfo+">", jsDirectGet+">", jsMsgGet+">", kvPrefix+">",
			jsConsumerNew+">", jsConsumerDur+protocol.JobsStreamName+".>", jsConsumerInfo+protocol.JobsStreamName+".>",
			jsConsumerNext+">", jsConsumerDel+">", jsAck+protocol.JobsStreamName+".>", jsFlowControl+">")
		// Data stores may name any bucket, so $KV.> is granted and fleetbook's own buckets
		// denied: a worker writes none of them, and reads the secrets of its jobs by key only.
		for _, b := range coordinatorOnlyBuckets {
			p.Pub.Deny.Add(kvPrefix + b + ".>")
		}
		for _, b := range []string{protocol.RunsBucket, protocol.SubmissionsBucket, protocol.SecretsBucket, protocol.SchedulesBucket} {
			stream := protocol.BucketStreamName(b)
			p.Pub.Deny.Add(jsConsumerNew+stream+".>", jsConsumerNew+stream)
			if b != protocol.SecretsBucket {
				p.Pub.Deny.Add(jsDirectGet+stream, jsDirectGet+stream+".>", jsMsgGet+stream)
			}
		}
		// The other work streams are the coordinators': a worker reading run messages, events or
		// results through a consumer of its own, or deleting a shared consumer, is refused.
		for _, s := range []string{protocol.RunsStreamName, protocol.EventsStreamName, protocol.ResultsStreamName} {
			p.Pub.Deny.Add(jsConsumerNew+s+".>", jsConsumerNew+s, jsConsumerNext+s+".>", jsConsumerDel+s+".>")
		}
		p.Pub.Deny.Add(jsConsumerDel + protocol.JobsStreamName + ".>")
		// Workers answer the ping of the worker service (and nothing else of $SRV), so metrics
		// can count them.
		p.Sub.Allow.Add(cancelWildcard, inbox, servicePing(protocol.WorkerServiceName))
		p.Resp = &jwt.ResponsePermission{MaxMsgs: 1}
	case RoleAgent, RoleFleet:
		subject, key := protocol.NodeRPCSubjectWildcard, kvPrefix+protocol.NodesBucket+".>"
		if role == RoleAgent {
			if !kvstore.ValidIdentity(identity) {
				return p, fmt.Errorf("%w %q", ErrInvalidIdentity, identity)
			}
			subject, key = protocol.NodeRPCSubject(identity), protocol.BucketSubject(protocol.NodesBucket, identity)
		}
		nodes, agents := protocol.BucketStreamName(protocol.NodesBucket), protocol.BucketStreamName(protocol.AgentsBucket)
		p.Pub.Allow.Add(key, kvPrefix+protocol.AgentsBucket+".>", jsInfo,
			jsStreamInfo+nodes, jsStreamInfo+agents, jsDirectGet+agents+".>", jsMsgGet+agents,
			jsConsumerNew+agents+".>", jsConsumerNext+agents+".>", jsConsumerDel+agents+".>", jsFlowControl+">")
		p.Sub.Allow.Add(subject, inbox)
		p.Resp = &jwt.ResponsePermission{MaxMsgs: 1}
	default:
		return p, fmt.Errorf("%w %q", ErrUnknownRole, role)
	}
	return p, nil
}

// servicePing is the subject that pings every instance of the micro service name.
func servicePing(name string) string { return "$SRV.PING." + name }

// followEvents is what following a run's events takes: an ordered consumer on the events stream.
func followEvents() []string {
	s := protocol.EventsStreamName
	return []string{jsInfo, jsStreamInfo + s, jsConsumerNew + s + ".>", jsConsumerNew + s, jsConsumerInfo + s + ".>",
		jsConsumerNext + s + ".>", jsConsumerDel + s + ".>", jsFlowControl + s + ".>"}
}
