package io.mvm.coordinator.auth;

import io.mvm.files.AtomicFile;
import io.mvm.model.MvmException;
import io.mvm.store.auth.ApiToken;
import io.mvm.store.auth.TokenStore;
import io.mvm.store.db.Database;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.InstantSource;
import java.util.Base64;
import java.util.Optional;
import java.util.UUID;

/**
 * On first start, creates the admin token: only its hash goes to the database, the token itself
 * to a 0600 file where the CLI looks for it. The file is written before the row commits, so a
 * crash never leaves a stored hash whose token nobody has.
 */
public final class AdminTokenBootstrap {
    private final SecureRandom random;
    private final InstantSource clock;

    public AdminTokenBootstrap(SecureRandom random, InstantSource clock) {
        this.random = random;
        this.clock = clock;
    }

    /** Returns the file written, or empty when an admin token already existed. */
    public Optional<Path> ensureAdminToken(Database db, TokenStore tokens, Path tokenFile) {
        return db.inTransaction(tx -> {
            if (tokens.anyActiveAdmin(tx)) {
                return Optional.empty();
            }
            byte[] secret = new byte[32];
            random.nextBytes(secret);
            String token = "mvm_" + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
            writeAtomically(tokenFile, token + "\n");
            tokens.insert(tx, ApiToken.admin(UUID.randomUUID().toString(), "admin",
                    clock.instant()), TokenAuthenticator.hash(token));
            return Optional.of(tokenFile);
        });
    }

    static void writeAtomically(Path file, String content) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
        } catch (IOException e) {
            throw MvmException.unavailable("cannot write the admin token to " + file + ": " + e.getMessage(), e);
        }
        // Owner-only from the first byte: the file is the admin's credential.
        AtomicFile.write(file, content.getBytes(StandardCharsets.UTF_8), PosixFilePermissions.fromString("rw-------"));
    }
}
