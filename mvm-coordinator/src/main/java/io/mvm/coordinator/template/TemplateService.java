package io.mvm.coordinator.template;

import io.mvm.coordinator.ExpectedVersion;
import io.mvm.coordinator.StaleVersionException;
import io.mvm.coordinator.UnprocessableException;
import io.mvm.coordinator.audit.AuditTrail;
import io.mvm.coordinator.auth.Caller;
import io.mvm.coordinator.scheduler.Scheduler;
import io.mvm.core.template.TemplateConfig;
import io.mvm.core.template.TemplateId;
import io.mvm.core.template.TemplateVariant;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.store.db.Database;
import io.mvm.store.db.Database.RetryTransaction;
import io.mvm.store.db.Tx;
import io.mvm.store.pool.Pool;
import io.mvm.store.pool.PoolStore;
import io.mvm.store.template.StoredArtifact;
import io.mvm.store.template.StoredRevision;
import io.mvm.store.template.StoredTemplate;
import io.mvm.store.template.TemplateRegistryStore;
import java.sql.SQLException;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The template registry: templates created from their TOML (one per variant, named as pools name
 * them), revisions registered by the host that built them once every artifact is uploaded and
 * verified, which revision is current, and deletion (refused while a pool uses the template).
 */
public final class TemplateService {
    private static final Pattern HASH = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern ROLE_OR_PATH = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    private final Database db;
    private final TemplateRegistryStore store;
    private final PoolStore pools;
    private final ArtifactStore artifacts;
    private final AuditTrail audit;
    private final InstantSource clock;
    private final Scheduler scheduler;

    public TemplateService(Database db, TemplateRegistryStore store, PoolStore pools, ArtifactStore artifacts,
                           AuditTrail audit, InstantSource clock, Scheduler scheduler) {
        this.db = db;
        this.store = store;
        this.pools = pools;
        this.artifacts = artifacts;
        this.audit = audit;
        this.clock = clock;
        this.scheduler = scheduler;
    }

    public ArtifactStore artifacts() {
        return artifacts;
    }

    /** Registers every variant of {@code config}; all or none (409 naming those that exist). */
    public List<StoredTemplate> create(Caller caller, TemplateConfig config, String configText,
                                       Optional<String> configDir) {
        caller.requireAdmin();
        return db.inTransaction(tx -> {
            List<String> existing = new ArrayList<>();
            for (TemplateVariant v : config.variants()) {
                new TemplateId(v.name());
                if (store.find(tx, v.name()).isPresent()) {
                    existing.add(v.name());
                }
            }
            if (!existing.isEmpty()) {
                throw new MvmException(ErrorCategory.ALREADY_EXISTS, "template(s) " + String.join(", ", existing)
                        + " already exist; delete them first to change their file");
            }
            Instant now = clock.instant();
            List<StoredTemplate> created = new ArrayList<>();
            for (TemplateVariant v : config.variants()) {
                StoredTemplate t = new StoredTemplate(v.name(), config.id().value(), v.role().wireName(), v.profile(),
                        v.vcpus(), v.memMib(), v.dataDiskMib(), config.source().kind(), configText, configDir,
                        Optional.empty(), Optional.empty(), 1, now, now);
                try {
                    store.insert(tx, t);
                } catch (SQLException e) {
                    if (tx.dialect().isUniqueViolation(e)) {
                        throw new RetryTransaction("template insert raced: " + e.getMessage());
                    }
                    throw e;
                }
                audit.clusterChanged(tx, caller, "template.create", "templates/" + v.name());
                created.add(t);
            }
            return created;
        });
    }

    public List<StoredTemplate> list() {
        return db.read(store::list);
    }

    public StoredTemplate get(String name) {
        return db.read(tx -> require(tx, name));
    }

    public List<StoredRevision> revisions(String name) {
        return db.read(tx -> {
            require(tx, name);
            return store.revisions(tx, name);
        });
    }

    public StoredRevision revision(String name, String hash) {
        return db.read(tx -> {
            require(tx, name);
            return store.findRevision(tx, name, hash).orElseThrow(() -> MvmException.notFound(
                    "template " + name + " has no revision " + hash));
        });
    }

    /** What an instance is to boot and what its node reports it booted. */
    public Optional<TemplateRegistryStore.InstanceRevision> instanceRevision(String instanceId) {
        return db.read(tx -> store.instanceRevision(tx, instanceId));
    }

    /** Stores an uploaded artifact (admin only; verified against its digest). */
    public long putArtifact(Caller caller, String digest, java.io.InputStream body) {
        caller.requireAdmin();
        String hex = ArtifactStore.hexOf(digest);
        long size = artifacts.put(hex, body);
        return size;
    }

    /**
     * Registers a revision whose artifacts are all stored with their recorded sizes, and makes it
     * current (the one before becomes {@code previous}). Registering a known revision again only
     * makes it current.
     */
    public StoredTemplate registerRevision(Caller caller, String name, RevisionUpload upload) {
        caller.requireAdmin();
        check(upload);
        StoredTemplate result = db.inTransaction(tx -> {
            StoredTemplate t = require(tx, name);
            if (!upload.role().equals(t.role())) {
                throw new UnprocessableException("revision " + upload.revisionHash() + " was built for role "
                        + upload.role() + ", template " + name + " is role " + t.role());
            }
            List<String> missing = new ArrayList<>();
            for (StoredArtifact a : upload.artifacts()) {
                Optional<Long> size = artifacts.size(a.sha256());
                if (size.isEmpty()) {
                    missing.add(a.role() + " sha256:" + a.sha256() + " (not uploaded)");
                } else if (size.get() != a.size()) {
                    missing.add(a.role() + " sha256:" + a.sha256() + " (stored " + size.get() + " bytes, record says "
                            + a.size() + ")");
                }
            }
            if (!missing.isEmpty()) {
                throw new UnprocessableException("revision " + upload.revisionHash() + " of " + name
                        + " names artifacts the coordinator does not hold: " + String.join("; ", missing)
                        + "; upload them to PUT /v1/artifacts/sha256:<hex> first");
            }
            Instant now = clock.instant();
            if (store.findRevision(tx, name, upload.revisionHash()).isEmpty()) {
                store.insertRevision(tx, new StoredRevision(name, upload.revisionHash(), upload.record(),
                        upload.builtAt(), now, caller.actor(), upload.artifacts()));
                audit.clusterChanged(tx, caller, "template.revision.register",
                        "templates/" + name + "/revisions/" + upload.revisionHash());
            }
            return makeCurrent(tx, caller, t, upload.revisionHash(), now);
        });
        scheduler.convergeQuietly();
        return result;
    }

    /** Makes a registered revision current (used by registration and by rollback). */
    public StoredTemplate setCurrent(Caller caller, String name, String revisionHash, ExpectedVersion expected) {
        caller.requireAdmin();
        StoredTemplate result = db.inTransaction(tx -> {
            StoredTemplate t = require(tx, name);
            StaleVersionException.check("template '" + name + "'", expected, t.version());
            if (store.findRevision(tx, name, revisionHash).isEmpty()) {
                throw new UnprocessableException("template " + name + " has no revision " + revisionHash);
            }
            return makeCurrent(tx, caller, t, revisionHash, clock.instant());
        });
        scheduler.convergeQuietly();
        return result;
    }

    private StoredTemplate makeCurrent(Tx tx, Caller caller, StoredTemplate t, String revision, Instant now)
            throws SQLException {
        if (t.currentRevision().equals(Optional.of(revision))) {
            return t;
        }
        StoredTemplate next = t.withCurrent(revision, now);
        if (!store.update(tx, next, t.version())) {
            throw new RetryTransaction("template " + t.name() + " changed concurrently");
        }
        audit.clusterChanged(tx, caller, "template.current", "templates/" + t.name() + "/revisions/" + revision);
        return next;
    }

    /** Deletes a template and its revisions; refused while a pool names it unless {@code force}. */
    public void delete(Caller caller, String name, boolean force) {
        caller.requireAdmin();
        db.inTransaction(tx -> {
            require(tx, name);
            List<String> users = poolsUsing(tx, name);
            if (!users.isEmpty() && !force) {
                throw MvmException.conflict("template " + name + " is used by pool(s) " + String.join(", ", users)
                        + "; change or delete them first, or pass ?force=true (their new instances then cannot start)");
            }
            store.delete(tx, name);
            audit.clusterChanged(tx, caller, "template.delete", "templates/" + name
                    + (users.isEmpty() ? "" : " (forced; used by " + String.join(", ", users) + ")"));
            return null;
        });
        collectGarbage(UPLOAD_GRACE);
    }

    /** How long an uploaded artifact may wait for its revision to be registered before a sweep may take it. */
    public static final java.time.Duration UPLOAD_GRACE = java.time.Duration.ofMinutes(30);

    /**
     * Removes stored artifacts no revision names any more and that are older than {@code minAge}:
     * an upload whose revision is not registered yet is unreferenced too, and must survive.
     */
    public int collectGarbage(java.time.Duration minAge) {
        Instant cutoff = clock.instant().minus(minAge);
        var referenced = db.read(store::referencedDigests);
        return artifacts.retainOnly(referenced, cutoff);
    }

    /**
     * For pools: the template must exist and have a current revision (422 naming it otherwise).
     * Runs inside the pool's transaction.
     */
    public static void requireBootable(Tx tx, TemplateRegistryStore store, String name) throws SQLException {
        StoredTemplate t = store.find(tx, name).orElseThrow(() -> new UnprocessableException("template '" + name
                + "' does not exist; create it with 'mvm template create FILE' (GET /v1/templates lists them)"));
        if (t.currentRevision().isEmpty()) {
            throw new UnprocessableException("template '" + name + "' has no revision yet; build it with "
                    + "'mvm template build " + name + " --on-host' on a build host");
        }
    }

    private List<String> poolsUsing(Tx tx, String name) throws SQLException {
        List<String> out = new ArrayList<>();
        for (Pool p : pools.listAll(tx)) {
            if (p.template().equals(Optional.of(name))) {
                out.add(p.ref().toString());
            }
        }
        return out;
    }

    private StoredTemplate require(Tx tx, String name) throws SQLException {
        return store.find(tx, name).orElseThrow(() -> MvmException.notFound("template '" + name + "' not found"));
    }

    private static void check(RevisionUpload u) {
        if (u.revisionHash() == null || !HASH.matcher(u.revisionHash()).matches()) {
            throw MvmException.invalid("revision_hash must be 64 lowercase hex digits, got '" + u.revisionHash() + "'");
        }
        if (u.artifacts().isEmpty()) {
            throw MvmException.invalid("a revision needs its artifacts (with size and sha256)");
        }
        for (StoredArtifact a : u.artifacts()) {
            if (!ROLE_OR_PATH.matcher(a.role()).matches() || !ROLE_OR_PATH.matcher(a.path()).matches()) {
                throw MvmException.invalid("artifact role and path must be plain file names, got '" + a.role() + "' / '"
                        + a.path() + "'");
            }
            ArtifactStore.hexOf(a.sha256());
            if (a.size() < 0) {
                throw MvmException.invalid("artifact " + a.role() + " has a negative size");
            }
        }
    }
}
