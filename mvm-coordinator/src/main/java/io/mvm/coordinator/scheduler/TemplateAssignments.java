package io.mvm.coordinator.scheduler;

import io.mvm.core.lifecycle.DesiredState;
import io.mvm.model.InstanceId;
import io.mvm.model.PoolRef;
import io.mvm.store.db.Tx;
import io.mvm.store.instance.Instance;
import io.mvm.store.pool.Pool;
import io.mvm.store.template.StoredRevision;
import io.mvm.store.template.StoredTemplate;
import io.mvm.store.template.TemplateRegistryStore;
import io.mvm.store.template.TemplateRegistryStore.InstanceRevision;
import java.sql.SQLException;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Which template revision each instance boots. An instance of a templated pool is pinned to its
 * pool's target revision (the one it is pinned to, else its template's current one) when it is
 * first placed, and keeps it: a new build becoming current does not change what a running VM is
 * told to be — replacing instances is the rollout's job.
 */
final class TemplateAssignments {
    private final TemplateRegistryStore store;
    private final Map<String, StoredTemplate> templates;
    private final Map<String, Map<String, StoredRevision>> revisions;
    private final Map<String, InstanceRevision> assigned;
    /** Pools pinned to a revision (set-template T@REV, rollback); the others follow their template's current one. */
    private final Map<PoolRef, String> pinned;

    private TemplateAssignments(TemplateRegistryStore store, Map<String, StoredTemplate> templates,
                                Map<String, Map<String, StoredRevision>> revisions, Map<String, InstanceRevision> assigned,
                                Map<PoolRef, String> pinned) {
        this.pinned = pinned;
        this.store = store;
        this.templates = templates;
        this.revisions = revisions;
        this.assigned = assigned;
    }

    static TemplateAssignments load(Tx tx, TemplateRegistryStore store) throws SQLException {
        return new TemplateAssignments(store, store.list(tx).stream()
                .collect(Collectors.toMap(StoredTemplate::name, Function.identity())), store.allRevisions(tx),
                new HashMap<>(store.instanceRevisions(tx)), pinned(store.rollouts(tx)));
    }

    private static Map<PoolRef, String> pinned(List<io.mvm.store.template.PoolRollout> rollouts) {
        Map<PoolRef, String> out = new HashMap<>();
        for (var r : rollouts) {
            r.pinnedRevision().ifPresent(rev -> out.put(r.pool(), rev));
        }
        return out;
    }

    /** Pins every placed, live instance of a templated pool that has no revision for its pool's template yet. */
    void assignNew(Tx tx, Collection<Instance> instances, Map<PoolRef, Pool> pools) throws SQLException {
        for (Instance i : instances) {
            Pool p = pools.get(i.pool());
            if (p == null || p.template().isEmpty() || i.desired() == DesiredState.DESTROYED || i.node().isEmpty()) {
                continue;
            }
            String template = p.template().get();
            InstanceRevision a = assigned.get(i.id().value());
            if (a != null && a.template().equals(template) && a.assigned().isPresent()) {
                continue;
            }
            Optional<String> target = Optional.ofNullable(pinned.get(p.ref()))
                    .filter(rev -> revisions.getOrDefault(template, Map.of()).containsKey(rev))
                    .or(() -> Optional.ofNullable(templates.get(template)).flatMap(StoredTemplate::currentRevision));
            if (target.isPresent()) {
                store.assign(tx, i.id().value(), template, target.get());
                assigned.put(i.id().value(), new InstanceRevision(i.id().value(), template, target,
                        a == null ? Optional.empty() : a.booted(), a == null ? Optional.empty() : a.reportedAt()));
            }
        }
    }

    /** The revision (and its files) an instance of {@code pool} boots, when its pool names a template. */
    Optional<StoredRevision> revisionOf(InstanceId id, Pool pool) {
        if (pool.template().isEmpty()) {
            return Optional.empty();
        }
        String template = pool.template().get();
        InstanceRevision a = assigned.get(id.value());
        Optional<String> hash = a != null && a.template().equals(template) ? a.assigned() : Optional.empty();
        return hash.map(h -> revisions.getOrDefault(template, Map.of()).get(h));
    }

    static List<DesiredEntry.Artifact> artifacts(StoredRevision r) {
        return r.artifacts().stream().map(a -> new DesiredEntry.Artifact(a.role(), a.path(), a.size(), a.sha256()))
                .toList();
    }
}
