package io.mvm.store.db;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SQLite database holds pool secrets and agent relay tokens: nobody but its owner may read it. */
class SqliteFilePermissionsIT {

    @TempDir
    Path tmp;

    @Test
    void aNewDatabaseAndTheDirectoryCreatedForItAreOwnerOnly() throws Exception {
        Path file = tmp.resolve("coordinator").resolve("mvm.db");
        try (Database db = Database.open(new DatabaseUrl.Sqlite(file))) {
            assertThat(mode(file.getParent())).isEqualTo("rwx------");
            assertThat(mode(file)).isEqualTo("rw-------");
            for (String suffix : new String[] {"-wal", "-shm"}) {
                Path sidecar = file.resolveSibling("mvm.db" + suffix);
                if (Files.exists(sidecar)) {
                    assertThat(mode(sidecar)).as(sidecar.toString()).isEqualTo("rw-------");
                }
            }
        }
    }

    @Test
    void anExistingWorldReadableDatabaseIsNarrowedOnOpen() throws Exception {
        Path file = tmp.resolve("old.db");
        try (Database db = Database.open(new DatabaseUrl.Sqlite(file))) {
            // created and migrated
        }
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        try (Database db = Database.open(new DatabaseUrl.Sqlite(file))) {
            assertThat(mode(file)).isEqualTo("rw-------");
        }
    }

    @Test
    void anExistingDirectoryIsLeftAlone() throws Exception {
        Path shared = Files.createDirectory(tmp.resolve("shared"));
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (Database db = Database.open(new DatabaseUrl.Sqlite(shared.resolve("mvm.db")))) {
            assertThat(mode(shared)).isEqualTo("rwxr-xr-x");
            assertThat(mode(shared.resolve("mvm.db"))).isEqualTo("rw-------");
        }
    }

    private static String mode(Path p) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }
}
