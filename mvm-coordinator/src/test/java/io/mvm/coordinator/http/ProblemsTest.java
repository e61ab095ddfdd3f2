package io.mvm.coordinator.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.coordinator.StaleVersionException;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.sql.SQLException;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class ProblemsTest {

    @ParameterizedTest
    @CsvSource({
        "INVALID_ARGUMENT, 400", "NOT_FOUND, 404", "ALREADY_EXISTS, 409", "CONFLICT, 409",
        "FAILED_PRECONDITION, 409", "QUOTA_EXCEEDED, 422", "RESOURCE_EXHAUSTED, 507", "UNAUTHENTICATED, 401",
        "PERMISSION_DENIED, 403", "UNAVAILABLE, 503", "INTERNAL, 500",
    })
    void everyCategoryHasOneStatus(ErrorCategory category, int status) {
        assertThat(Problems.status(new MvmException(category, "x"))).isEqualTo(status);
    }

    @Test
    void staleVersionsAndOversizedBodiesHaveTheirOwnStatus() {
        assertThat(Problems.status(new StaleVersionException("pool 'a/b'", 1, 2))).isEqualTo(412);
        assertThat(Problems.status(new BodyTooLargeException(65536))).isEqualTo(413);
    }

    @Test
    void internalAndStorageFailuresKeepTheirCausesOutOfTheBody() {
        MvmException internal = MvmException.internal("NullPointerException in PoolService line 42", new NullPointerException());
        Map<String, Object> body = Problems.body(internal, 500, "/v1/tenants");
        assertThat(body.get("detail")).isEqualTo("internal error; see the coordinator log");
        assertThat(body.toString()).doesNotContain("PoolService").doesNotContain("NullPointer");

        MvmException db = MvmException.unavailable("database error (jdbc:postgresql://db:5432/mvm)", new SQLException("x"));
        assertThat(Problems.body(db, 503, "/v1/tenants").toString()).doesNotContain("jdbc:postgresql");
    }

    @Test
    void detailsBecomeExtensionMembersWithoutOverridingStandardOnes() {
        MvmException quota = new MvmException(ErrorCategory.QUOTA_EXCEEDED, "quota max_vcpus exceeded",
                Map.of("quota", "max_vcpus", "limit", 4L, "status", 999), null);
        Map<String, Object> body = Problems.body(quota, 422, "/p");
        assertThat(body).containsEntry("quota", "max_vcpus").containsEntry("limit", 4L).containsEntry("status", 422)
                .containsEntry("type", "https://mvm.dev/problems/quota-exceeded").containsEntry("instance", "/p");
    }
}
