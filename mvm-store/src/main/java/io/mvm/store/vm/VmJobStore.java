package io.mvm.store.vm;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import io.mvm.model.PoolName;
import io.mvm.model.TenantId;
import io.mvm.store.db.Tx;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** {@code vm_jobs} rows; the spec is a JSON text column. */
public final class VmJobStore {
    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);
    private static final String INSERTED = "job_id, tenant_id, pool_name, spec, spec_hash, source, version, created_at, "
            + "updated_at";
    private static final String COLUMNS = INSERTED + ", finished_at, exit_code, output_tail";

    public Optional<VmJob> find(Tx tx, String jobId) throws SQLException {
        return tx.one("SELECT " + COLUMNS + " FROM vm_jobs WHERE job_id = ?", VmJobStore::map, jobId);
    }

    public List<VmJob> list(Tx tx) throws SQLException {
        return tx.query("SELECT " + COLUMNS + " FROM vm_jobs ORDER BY job_id", VmJobStore::map);
    }

    public List<VmJob> listBySource(Tx tx, String source) throws SQLException {
        return tx.query("SELECT " + COLUMNS + " FROM vm_jobs WHERE source = ? ORDER BY job_id", VmJobStore::map, source);
    }

    public void insert(Tx tx, VmJob j) throws SQLException {
        tx.update("INSERT INTO vm_jobs (" + INSERTED + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", j.jobId(),
                j.tenant().value(), j.pool().value(), write(j.spec()), j.specHash(), j.source(), j.version(),
                j.createdAt().toEpochMilli(), j.updatedAt().toEpochMilli());
    }

    /** Replaces the spec if the row is still at {@code expectedVersion}. */
    public boolean update(Tx tx, VmJob j, long expectedVersion) throws SQLException {
        // A changed job runs again: any recorded outcome belongs to the previous spec.
        return tx.update("UPDATE vm_jobs SET spec = ?, spec_hash = ?, source = ?, version = ?, updated_at = ?, "
                        + "finished_at = NULL, exit_code = NULL, output_tail = NULL WHERE job_id = ? AND version = ?", write(j.spec()), j.specHash(), j.source(), j.version(),
                j.updatedAt().toEpochMilli(), j.jobId(), expectedVersion) == 1;
    }

    /** Records how a run-once job ended, once (false when it was already recorded or the job is gone). */
    public boolean finish(Tx tx, String jobId, VmJob.Finished finished) throws SQLException {
        return tx.update("UPDATE vm_jobs SET finished_at = ?, exit_code = ?, output_tail = ? "
                        + "WHERE job_id = ? AND finished_at IS NULL", finished.at().toEpochMilli(), finished.exitCode(),
                finished.outputTail(), jobId) == 1;
    }

    public void delete(Tx tx, String jobId) throws SQLException {
        tx.update("DELETE FROM vm_jobs WHERE job_id = ?", jobId);
    }

    private static String write(StoredVmSpec spec) {
        try {
            return JSON.writeValueAsString(spec);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a stored spec always encodes", e);
        }
    }

    private static StoredVmSpec read(String json) throws SQLException {
        try {
            return JSON.readValue(json, StoredVmSpec.class);
        } catch (JsonProcessingException e) {
            throw new SQLException("unreadable vm_jobs.spec: " + e.getOriginalMessage(), e);
        }
    }

    private static VmJob map(ResultSet rs) throws SQLException {
        return new VmJob(rs.getString("job_id"), TenantId.of(rs.getString("tenant_id")),
                PoolName.of(rs.getString("pool_name")), read(rs.getString("spec")), rs.getString("spec_hash"),
                rs.getString("source"), rs.getLong("version"), Instant.ofEpochMilli(rs.getLong("created_at")),
                Instant.ofEpochMilli(rs.getLong("updated_at")), finished(rs));
    }

    private static Optional<VmJob.Finished> finished(ResultSet rs) throws SQLException {
        long at = rs.getLong("finished_at");
        if (rs.wasNull()) {
            return Optional.empty();
        }
        return Optional.of(new VmJob.Finished(Instant.ofEpochMilli(at), rs.getInt("exit_code"),
                Optional.ofNullable(rs.getString("output_tail")).orElse("")));
    }
}
