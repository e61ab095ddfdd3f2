package io.mvm.agent.coordinator;

import io.mvm.agent.templates.ArtifactSource;
import io.mvm.core.reconcile.DesiredSnapshot;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Several coordinators behind one {@link CoordinatorClient}: every call goes to the coordinator
 * that answered last, and when that one is unreachable (UNAVAILABLE: refused, timed out, 5xx)
 * the same call is tried on the others in turn before the caller sees a failure. Any coordinator
 * serves any request (they share one database), so nothing is pinned to one of them: a long poll
 * interrupted by a coordinator's death simply continues on the next, and reports the agent could
 * not deliver stay in its outbox until one of them takes them. Answers other than UNAVAILABLE
 * (401, 404, 409 ...) are answers, not failures, and are passed on as they are.
 */
public final class FailoverCoordinatorClient implements CoordinatorClient, ArtifactSource {
    private static final Logger log = LoggerFactory.getLogger(FailoverCoordinatorClient.class);

    private final List<URI> urls;
    private final List<HttpCoordinatorClient> clients;
    private final AtomicInteger current = new AtomicInteger();

    /** @param connect makes the client of one coordinator (TLS and token settings are its business) */
    public FailoverCoordinatorClient(List<URI> urls, Function<URI, HttpCoordinatorClient> connect) {
        if (urls.isEmpty()) {
            throw MvmException.invalid("at least one coordinator URL is needed");
        }
        if (urls.stream().distinct().count() != urls.size()) {
            throw MvmException.invalid("coordinator URLs are listed twice: " + urls);
        }
        this.urls = List.copyOf(urls);
        List<HttpCoordinatorClient> made = new ArrayList<>();
        for (URI u : urls) {
            made.add(connect.apply(u));
        }
        this.clients = List.copyOf(made);
    }

    /** Splits {@code --coordinator-url} values: each may itself be a comma-separated list. */
    public static List<URI> parse(List<String> values) {
        List<URI> out = new ArrayList<>();
        for (String v : values) {
            for (String part : v.split(",")) {
                if (!part.isBlank()) {
                    out.add(URI.create(part.strip()));
                }
            }
        }
        return out;
    }

    public List<URI> urls() {
        return urls;
    }

    /** The coordinator the next call goes to first. */
    public URI current() {
        return urls.get(current.get());
    }

    private <T> T call(Function<HttpCoordinatorClient, T> request) {
        int first = current.get();
        MvmException last = null;
        for (int i = 0; i < clients.size(); i++) {
            int index = (first + i) % clients.size();
            try {
                T result = request.apply(clients.get(index));
                if (index != first && current.compareAndSet(first, index)) {
                    log.warn("coordinator {} unreachable; now talking to {}", urls.get(first), urls.get(index));
                }
                return result;
            } catch (MvmException e) {
                if (e.category() != ErrorCategory.UNAVAILABLE || Thread.currentThread().isInterrupted()) {
                    throw e;
                }
                last = e;
            }
        }
        if (clients.size() == 1) {
            throw last;
        }
        throw MvmException.unavailable("no coordinator reachable (" + urls + "); last: " + last.getMessage(), last);
    }

    @Override
    public Registration register(NodeRegistration registration) {
        return call(c -> c.register(registration));
    }

    @Override
    public void heartbeat(NodeId node, int instanceCount) {
        call(c -> {
            c.heartbeat(node, instanceCount);
            return null;
        });
    }

    @Override
    public DesiredSnapshot desired(NodeId node, OptionalLong afterGeneration, Duration wait) {
        return call(c -> c.desired(node, afterGeneration, wait));
    }

    @Override
    public void reportObserved(NodeId node, ObservedReport report) {
        call(c -> {
            c.reportObserved(node, report);
            return null;
        });
    }

    @Override
    public byte[] revisionRecord(String template, String revision) {
        return call(c -> c.revisionRecord(template, revision));
    }

    @Override
    public Ranged artifact(String sha256, long offset) {
        return call(c -> c.artifact(sha256, offset));
    }

    /** See {@link HttpCoordinatorClient#reportBootedFrom}; set on every coordinator's client. */
    public void reportBootedFrom(java.util.function.Function<io.mvm.model.InstanceId,
            java.util.Optional<io.mvm.agent.templates.TemplateArtifacts.Booted>> lookup) {
        clients.forEach(c -> c.reportBootedFrom(lookup));
    }
}
