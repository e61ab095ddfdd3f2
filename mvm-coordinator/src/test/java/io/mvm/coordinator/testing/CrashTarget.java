package io.mvm.coordinator.testing;

import io.mvm.coordinator.Coordinator;
import io.mvm.coordinator.CoordinatorConfig;
import io.mvm.store.db.DatabaseUrl;
import java.nio.file.Path;

/**
 * A coordinator in its own JVM for the crash test: prints its port, then serves until the test
 * kills the process with SIGKILL.
 */
public final class CrashTarget {
    private CrashTarget() {}

    public static void main(String[] args) throws InterruptedException {
        Coordinator c = Coordinator.start(CoordinatorConfig.defaults(Path.of(args[1]))
                .withDatabase(DatabaseUrl.parse(args[0])).withListen("127.0.0.1", 0));
        System.out.println("PORT " + c.port());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
