package io.mvm.runtime.snapshot;

import io.mvm.model.MvmException;
import io.mvm.runtime.state.DirectoryTree;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Deleting a golden snapshot while clones run. Each running clone maps the RAM file: Linux keeps an
 * unlinked file's pages for as long as a mapping holds it, so deletion can never pull memory from
 * under a clone; but it does lose the name, and with it every future clone. So a delete is refused
 * while any process maps the file, unless the caller says the running clones may keep the last
 * reference ({@code evenIfMapped}): the space is then freed when the last of them ends.
 */
public final class GoldenSnapshotDeletion {
    private GoldenSnapshotDeletion() {}

    /** Pids of the processes that map this snapshot's RAM file now (from /proc/PID/maps). */
    public static List<Long> mappers(Path snapshotDir) {
        String memory = snapshotDir.toAbsolutePath().normalize().resolve(GoldenSnapshot.MEMORY).toString();
        List<Long> out = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path proc : procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit)).toList()) {
                try (Stream<String> lines = Files.lines(proc.resolve("maps"))) {
                    if (lines.anyMatch(line -> line.endsWith(" " + memory) || line.endsWith(" " + memory + " (deleted)"))) {
                        out.add(Long.parseLong(proc.getFileName().toString()));
                    }
                } catch (IOException | java.io.UncheckedIOException e) {
                    // the process ended meanwhile, or is not ours to read
                }
            }
        } catch (IOException e) {
            throw MvmException.precondition("cannot list /proc to find the snapshot's users: " + e.getMessage());
        }
        return out;
    }

    /** Deletes the snapshot directory; see the class comment for {@code evenIfMapped}. Returns the mapping pids. */
    public static List<Long> delete(Path snapshotDir, boolean evenIfMapped) {
        GoldenSnapshot.open(snapshotDir); // refuses a directory that is not a snapshot: never delete something else
        List<Long> users = mappers(snapshotDir);
        if (!users.isEmpty() && !evenIfMapped) {
            throw MvmException.precondition("snapshot " + snapshotDir + " is in use by " + users.size()
                    + " running clone(s) (pids " + users + "); stop them first, or delete anyway and let them keep"
                    + " its RAM until they end");
        }
        DirectoryTree.delete(snapshotDir);
        return users;
    }
}
