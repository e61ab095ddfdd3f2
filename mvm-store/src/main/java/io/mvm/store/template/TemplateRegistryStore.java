package io.mvm.store.template;

import io.mvm.store.db.Tx;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/** Templates, their revisions and artifacts, and what each instance reports it booted. */
public final class TemplateRegistryStore {
    private static final String COLUMNS = "name, template_id, role, profile, vcpus, mem_mib, data_disk_mib, source_kind, "
            + "config, config_dir, current_revision, previous_revision, version, created_at, updated_at";

    public Optional<StoredTemplate> find(Tx tx, String name) throws SQLException {
        return tx.one("SELECT " + COLUMNS + " FROM templates WHERE name = ?", TemplateRegistryStore::map, name);
    }

    public List<StoredTemplate> list(Tx tx) throws SQLException {
        return tx.query("SELECT " + COLUMNS + " FROM templates ORDER BY name", TemplateRegistryStore::map);
    }

    public void insert(Tx tx, StoredTemplate t) throws SQLException {
        tx.update("INSERT INTO templates (" + COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                t.name(), t.templateId(), t.role(), t.profile(), t.vcpus(), t.memMib(), t.dataDiskMib(), t.sourceKind(),
                t.config(), t.configDir().orElse(null), t.currentRevision().orElse(null),
                t.previousRevision().orElse(null), t.version(), t.createdAt().toEpochMilli(),
                t.updatedAt().toEpochMilli());
    }

    /** Writes {@code t} if the row is still at {@code expectedVersion}. */
    public boolean update(Tx tx, StoredTemplate t, long expectedVersion) throws SQLException {
        return tx.update("UPDATE templates SET template_id = ?, role = ?, profile = ?, vcpus = ?, mem_mib = ?, "
                        + "data_disk_mib = ?, source_kind = ?, config = ?, config_dir = ?, current_revision = ?, "
                        + "previous_revision = ?, version = ?, updated_at = ? WHERE name = ? AND version = ?",
                t.templateId(), t.role(), t.profile(), t.vcpus(), t.memMib(), t.dataDiskMib(), t.sourceKind(), t.config(),
                t.configDir().orElse(null), t.currentRevision().orElse(null), t.previousRevision().orElse(null),
                t.version(), t.updatedAt().toEpochMilli(), t.name(), expectedVersion) == 1;
    }

    /** Removes a template with its revisions and artifact rows (the cascade). */
    public void delete(Tx tx, String name) throws SQLException {
        tx.update("DELETE FROM template_artifacts WHERE template = ?", name);
        tx.update("DELETE FROM template_revisions WHERE template = ?", name);
        tx.update("DELETE FROM templates WHERE name = ?", name);
    }

    public void insertRevision(Tx tx, StoredRevision r) throws SQLException {
        tx.update("INSERT INTO template_revisions (template, revision_hash, record, built_at, registered_at, registered_by)"
                        + " VALUES (?, ?, ?, ?, ?, ?)", r.template(), r.revisionHash(), r.record(),
                r.builtAt().toEpochMilli(), r.registeredAt().toEpochMilli(), r.registeredBy());
        for (StoredArtifact a : r.artifacts()) {
            tx.update("INSERT INTO template_artifacts (template, revision_hash, role, path, size, sha256)"
                    + " VALUES (?, ?, ?, ?, ?, ?)", r.template(), r.revisionHash(), a.role(), a.path(), a.size(), a.sha256());
        }
    }

    public Optional<StoredRevision> findRevision(Tx tx, String template, String revisionHash) throws SQLException {
        return queryRevisions(tx, "WHERE template = ? AND revision_hash = ?", template, revisionHash).stream().findFirst();
    }

    /** A template's revisions, oldest build first. */
    public List<StoredRevision> revisions(Tx tx, String template) throws SQLException {
        return queryRevisions(tx, "WHERE template = ?", template);
    }

    /** Every registered revision of every template (the desired state's and garbage collection's view). */
    public Map<String, Map<String, StoredRevision>> allRevisions(Tx tx) throws SQLException {
        Map<String, Map<String, StoredRevision>> out = new HashMap<>();
        for (StoredRevision r : queryRevisions(tx, "")) {
            out.computeIfAbsent(r.template(), k -> new HashMap<>()).put(r.revisionHash(), r);
        }
        return out;
    }

    private List<StoredRevision> queryRevisions(Tx tx, String where, Object... args) throws SQLException {
        Map<String, List<StoredArtifact>> files = new HashMap<>();
        tx.query("SELECT template, revision_hash, role, path, size, sha256 FROM template_artifacts "
                + where + " ORDER BY role", rs -> {
            files.computeIfAbsent(rs.getString("template") + "/" + rs.getString("revision_hash"), k -> new ArrayList<>())
                    .add(new StoredArtifact(rs.getString("role"), rs.getString("path"), rs.getLong("size"),
                            rs.getString("sha256")));
            return null;
        }, args);
        return tx.query("SELECT template, revision_hash, record, built_at, registered_at, registered_by "
                + "FROM template_revisions " + where + " ORDER BY built_at, registered_at, revision_hash", rs ->
                new StoredRevision(rs.getString("template"), rs.getString("revision_hash"), rs.getString("record"),
                        Instant.ofEpochMilli(rs.getLong("built_at")), Instant.ofEpochMilli(rs.getLong("registered_at")),
                        rs.getString("registered_by"),
                        files.getOrDefault(rs.getString("template") + "/" + rs.getString("revision_hash"), List.of())),
                args);
    }

    /** Every digest some registered revision names. */
    public Set<String> referencedDigests(Tx tx) throws SQLException {
        return new TreeSet<>(tx.query("SELECT DISTINCT sha256 FROM template_artifacts", rs -> rs.getString(1)));
    }

    /** Whether any revision names this digest (the artifact may be served). */
    public boolean digestReferenced(Tx tx, String sha256) throws SQLException {
        return tx.count("SELECT COUNT(*) FROM template_artifacts WHERE sha256 = ?", sha256) > 0;
    }

    // ---- which revision each instance boots ----

    /**
     * An instance's template revisions: {@code assigned} is what the coordinator tells its node to
     * boot, {@code booted} what the node reports it booted (empty until it does).
     */
    public record InstanceRevision(String instanceId, String template, Optional<String> assigned,
                                   Optional<String> booted, Optional<Instant> reportedAt) {}

    /** Pins the revision an instance boots (its template's current one when it is first scheduled). */
    public void assign(Tx tx, String instanceId, String template, String revisionHash) throws SQLException {
        int changed = tx.update("UPDATE instance_templates SET template = ?, assigned_revision = ? WHERE instance_id = ?",
                template, revisionHash, instanceId);
        if (changed == 0) {
            tx.update("INSERT INTO instance_templates (instance_id, template, assigned_revision) "
                    + "SELECT id, ?, ? FROM instances WHERE id = ?", template, revisionHash, instanceId);
        }
    }

    /** Records what an instance's node reports it booted (nothing when the instance row is gone). */
    public void reportBooted(Tx tx, String instanceId, String template, String revisionHash, Instant now)
            throws SQLException {
        // Every report repeats it: write only when it says something new.
        Optional<InstanceRevision> known = instanceRevision(tx, instanceId);
        if (known.isPresent() && known.get().template().equals(template)
                && known.get().booted().equals(Optional.of(revisionHash))) {
            return;
        }
        int changed = tx.update("UPDATE instance_templates SET template = ?, booted_revision = ?, reported_at = ? "
                + "WHERE instance_id = ?", template, revisionHash, now.toEpochMilli(), instanceId);
        if (changed == 0) {
            tx.update("INSERT INTO instance_templates (instance_id, template, booted_revision, reported_at) "
                    + "SELECT id, ?, ?, ? FROM instances WHERE id = ?", template, revisionHash, now.toEpochMilli(),
                    instanceId);
        }
    }

    public Optional<InstanceRevision> instanceRevision(Tx tx, String instanceId) throws SQLException {
        return tx.one("SELECT instance_id, template, assigned_revision, booted_revision, reported_at "
                + "FROM instance_templates WHERE instance_id = ?", TemplateRegistryStore::instanceRevision, instanceId);
    }

    public Map<String, InstanceRevision> instanceRevisions(Tx tx) throws SQLException {
        Map<String, InstanceRevision> out = new HashMap<>();
        for (InstanceRevision r : tx.query("SELECT instance_id, template, assigned_revision, booted_revision, reported_at "
                + "FROM instance_templates", TemplateRegistryStore::instanceRevision)) {
            out.put(r.instanceId(), r);
        }
        return out;
    }

    private static InstanceRevision instanceRevision(ResultSet rs) throws SQLException {
        long at = rs.getLong("reported_at");
        boolean reported = !rs.wasNull();
        return new InstanceRevision(rs.getString("instance_id"), rs.getString("template"),
                Optional.ofNullable(rs.getString("assigned_revision")), Optional.ofNullable(rs.getString("booted_revision")),
                reported ? Optional.of(Instant.ofEpochMilli(at)) : Optional.empty());
    }

    // ---- pool rollouts ----

    private static final String ROLLOUT_COLUMNS = "tenant_id, pool_name, template, pinned_revision, target_revision, "
            + "previous_revision, max_unavailable, status, reason, replaced, started_at, updated_at";

    public Optional<PoolRollout> rollout(Tx tx, io.mvm.model.PoolRef pool) throws SQLException {
        return tx.one("SELECT " + ROLLOUT_COLUMNS + " FROM pool_rollouts WHERE tenant_id = ? AND pool_name = ?",
                TemplateRegistryStore::rollout, pool.tenant().value(), pool.name().value());
    }

    public List<PoolRollout> rollouts(Tx tx) throws SQLException {
        return tx.query("SELECT " + ROLLOUT_COLUMNS + " FROM pool_rollouts", TemplateRegistryStore::rollout);
    }

    public void saveRollout(Tx tx, PoolRollout r) throws SQLException {
        Object[] values = {r.template(), r.pinnedRevision().orElse(null), r.targetRevision().orElse(null),
            r.previousRevision().orElse(null), r.maxUnavailable(), r.status(), r.reason().orElse(null), r.replaced(),
            r.startedAt().map(Instant::toEpochMilli).orElse(null), r.updatedAt().toEpochMilli(),
            r.pool().tenant().value(), r.pool().name().value()};
        int changed = tx.update("UPDATE pool_rollouts SET template = ?, pinned_revision = ?, target_revision = ?, "
                + "previous_revision = ?, max_unavailable = ?, status = ?, reason = ?, replaced = ?, started_at = ?, "
                + "updated_at = ? WHERE tenant_id = ? AND pool_name = ?", values);
        if (changed == 0) {
            tx.update("INSERT INTO pool_rollouts (template, pinned_revision, target_revision, previous_revision, "
                    + "max_unavailable, status, reason, replaced, started_at, updated_at, tenant_id, pool_name) "
                    + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values);
        }
    }

    private static PoolRollout rollout(ResultSet rs) throws SQLException {
        long started = rs.getLong("started_at");
        boolean hasStart = !rs.wasNull();
        return new PoolRollout(new io.mvm.model.PoolRef(io.mvm.model.TenantId.of(rs.getString("tenant_id")),
                io.mvm.model.PoolName.of(rs.getString("pool_name"))), rs.getString("template"),
                Optional.ofNullable(rs.getString("pinned_revision")), Optional.ofNullable(rs.getString("target_revision")),
                Optional.ofNullable(rs.getString("previous_revision")), rs.getInt("max_unavailable"),
                rs.getString("status"), Optional.ofNullable(rs.getString("reason")), rs.getInt("replaced"),
                hasStart ? Optional.of(Instant.ofEpochMilli(started)) : Optional.empty(),
                Instant.ofEpochMilli(rs.getLong("updated_at")));
    }

    private static StoredTemplate map(ResultSet rs) throws SQLException {
        return new StoredTemplate(rs.getString("name"), rs.getString("template_id"), rs.getString("role"),
                rs.getString("profile"), rs.getInt("vcpus"), rs.getLong("mem_mib"), rs.getLong("data_disk_mib"),
                rs.getString("source_kind"), rs.getString("config"), Optional.ofNullable(rs.getString("config_dir")),
                Optional.ofNullable(rs.getString("current_revision")),
                Optional.ofNullable(rs.getString("previous_revision")), rs.getLong("version"),
                Instant.ofEpochMilli(rs.getLong("created_at")), Instant.ofEpochMilli(rs.getLong("updated_at")));
    }
}
