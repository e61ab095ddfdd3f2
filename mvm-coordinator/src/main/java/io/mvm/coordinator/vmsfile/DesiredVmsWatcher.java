package io.mvm.coordinator.vmsfile;

import io.mvm.coordinator.auth.Caller;
import io.mvm.coordinator.vms.VmJobService;
import io.mvm.core.vms.VmSpecException;
import io.mvm.model.MvmException;
import io.mvm.store.vm.VmJob;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a desired-VMs file at start and again whenever its content changes (checked every
 * interval by content hash, so an editor's rename-over-save and a same-second rewrite are both
 * seen). A valid file's entries become jobs owned by the file (added, changed, removed); an
 * invalid one is logged with every problem and its line, and changes nothing. Jobs made through
 * the API are never touched.
 */
public final class DesiredVmsWatcher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DesiredVmsWatcher.class);
    private static final Caller FILE_CALLER = new Caller("desired-vms-file");

    /** What the last look at the file found. */
    public record Result(String contentHash, boolean applied, List<String> problems) {}

    private final Path file;
    private final VmJobService jobs;
    private final ScheduledExecutorService timer;
    private volatile String appliedHash = "";
    private volatile Result last = new Result("", false, List.of());

    public DesiredVmsWatcher(Path file, VmJobService jobs) {
        this.file = file;
        this.jobs = jobs;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "mvm-desired-vms");
            t.setDaemon(true);
            return t;
        });
    }

    /** Applies the file now, then watches it every {@code interval}. */
    public DesiredVmsWatcher start(Duration interval) {
        checkNow();
        long ms = interval.toMillis();
        timer.scheduleWithFixedDelay(this::checkQuietly, ms, ms, TimeUnit.MILLISECONDS);
        return this;
    }

    public Result last() {
        return last;
    }

    private void checkQuietly() {
        try {
            checkNow();
        } catch (RuntimeException e) {
            log.warn("desired-VMs file {}: check failed, retrying: {}", file, e.toString());
        }
    }

    /** Reads the file and applies it if its content changed since the last applied version. */
    public synchronized Result checkNow() {
        byte[] content;
        try {
            content = Files.readAllBytes(file);
        } catch (IOException e) {
            last = new Result("", false, List.of("cannot read " + file + ": " + e.getMessage()));
            log.error("desired-VMs file {} cannot be read ({}); the desired VMs stay as they are", file, e.toString());
            return last;
        }
        String hash = sha256(content);
        if (hash.equals(appliedHash)) {
            return last;
        }
        if (hash.equals(last.contentHash()) && !last.applied()) {
            return last; // the same invalid content: said already
        }
        List<DesiredVmsFile.Entry> entries;
        try {
            entries = DesiredVmsFile.parse(new String(content, java.nio.charset.StandardCharsets.UTF_8),
                    file.toString());
        } catch (VmSpecException e) {
            e.problems().forEach(p -> log.error("desired-VMs file: {}", p));
            log.error("desired-VMs file {} rejected ({} problem(s)); the desired VMs stay as they are", file,
                    e.problems().size());
            last = new Result(hash, false, e.problems());
            return last;
        }
        List<String> problems = apply(entries);
        appliedHash = hash;
        last = new Result(hash, true, problems);
        return last;
    }

    private List<String> apply(List<DesiredVmsFile.Entry> entries) {
        List<String> problems = new ArrayList<>();
        for (DesiredVmsFile.Entry e : entries) {
            try {
                jobs.submit(FILE_CALLER, java.util.Optional.of(e.vmId()), e.tenant(), e.spec(), VmJob.FILE);
            } catch (MvmException ex) {
                String p = file + ":" + e.line() + ": vm '" + e.vmId() + "': " + ex.getMessage();
                problems.add(p);
                log.error("desired-VMs file: {}", p);
            }
        }
        Set<String> declared = entries.stream().map(DesiredVmsFile.Entry::vmId).collect(Collectors.toSet());
        for (VmJob job : jobs.listBySource(VmJob.FILE)) {
            if (!declared.contains(job.jobId())) {
                try {
                    jobs.delete(FILE_CALLER, job.jobId(), VmJob.FILE);
                } catch (MvmException ex) {
                    problems.add("removing vm '" + job.jobId() + "': " + ex.getMessage());
                }
            }
        }
        log.info("desired-VMs file {} applied: {} VM(s) declared{}", file, entries.size(),
                problems.isEmpty() ? "" : ", " + problems.size() + " could not be applied");
        return problems;
    }

    private static String sha256(byte[] content) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
