"""JSON Schemas for the custom resources the platform renders.

kubernetes-validate ships only the built-in API. The operators' CRDs are large and not on this
machine, so each schema here covers the fields our program may set, closed with
`additionalProperties: false` so that a misspelled field fails like it does in strict mode.
Field names follow the upstream CRDs (CloudNativePG 1.2x `postgresql.cnpg.io/v1`,
prometheus-operator `monitoring.coreos.com/v1`, External Secrets `external-secrets.io/v1`);
extend a schema when the program starts using another upstream field. `metadata` is checked
separately against the built-in ObjectMeta schema.
"""

from typing import Any

_STR: dict[str, Any] = {"type": "string"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_INT: dict[str, Any] = {"type": "integer"}
_STR_MAP: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
_ANY_OBJECT: dict[str, Any] = {"type": "object"}
_QUANTITY: dict[str, Any] = {"type": ["string", "number"]}
_NAME_REF: dict[str, Any] = {
    "type": "object",
    "properties": {"name": _STR},
    "required": ["name"],
    "additionalProperties": False,
}
_KEY_REF: dict[str, Any] = {
    "type": "object",
    "properties": {"name": _STR, "key": _STR, "optional": _BOOL},
    "required": ["name", "key"],
    "additionalProperties": False,
}


def _closed(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object schema that accepts exactly these properties."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


_RESOURCES = _closed(
    {
        "requests": {"type": "object", "additionalProperties": _QUANTITY},
        "limits": {"type": "object", "additionalProperties": _QUANTITY},
    }
)
_LABEL_SELECTOR = _closed(
    {
        "matchLabels": _STR_MAP,
        "matchExpressions": {
            "type": "array",
            "items": _closed(
                {"key": _STR, "operator": _STR, "values": {"type": "array", "items": _STR}},
                ("key", "operator"),
            ),
        },
    }
)
_NAMESPACE_SELECTOR = _closed({"any": _BOOL, "matchNames": {"type": "array", "items": _STR}})
_RELABELINGS: dict[str, Any] = {
    "type": "array",
    "items": _closed(
        {
            "action": {
                "enum": [
                    "replace",
                    "Replace",
                    "keep",
                    "Keep",
                    "drop",
                    "Drop",
                    "hashmod",
                    "HashMod",
                    "labelmap",
                    "LabelMap",
                    "labeldrop",
                    "LabelDrop",
                    "labelkeep",
                    "LabelKeep",
                    "lowercase",
                    "Lowercase",
                    "uppercase",
                    "Uppercase",
                    "keepequal",
                    "KeepEqual",
                    "dropequal",
                    "DropEqual",
                ]
            },
            "sourceLabels": {"type": "array", "items": _STR},
            "separator": _STR,
            "targetLabel": _STR,
            "regex": _STR,
            "modulus": _INT,
            "replacement": _STR,
        }
    ),
}
_SCRAPE_ENDPOINT = {
    "port": _STR,
    "targetPort": {"type": ["string", "integer"]},
    "path": _STR,
    "scheme": {"enum": ["http", "https"]},
    "interval": _STR,
    "scrapeTimeout": _STR,
    "honorLabels": _BOOL,
    "honorTimestamps": _BOOL,
    "params": {"type": "object"},
    "relabelings": _RELABELINGS,
    "metricRelabelings": _RELABELINGS,
    "tlsConfig": _ANY_OBJECT,
    "basicAuth": _ANY_OBJECT,
    "authorization": _ANY_OBJECT,
    "followRedirects": _BOOL,
    "enableHttp2": _BOOL,
}
_MONITOR_COMMON = {
    "selector": _LABEL_SELECTOR,
    "namespaceSelector": _NAMESPACE_SELECTOR,
    "jobLabel": _STR,
    "podTargetLabels": {"type": "array", "items": _STR},
    "sampleLimit": _INT,
    "targetLimit": _INT,
    "attachMetadata": _ANY_OBJECT,
    "scrapeClass": _STR,
}

_CNPG_CLUSTER_SPEC = _closed(
    {
        "instances": {"type": "integer", "minimum": 1},
        "imageName": _STR,
        "imagePullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
        "imagePullSecrets": {"type": "array", "items": _NAME_REF},
        "description": _STR,
        "inheritedMetadata": _closed({"labels": _STR_MAP, "annotations": _STR_MAP}),
        "primaryUpdateStrategy": {"enum": ["supervised", "unsupervised"]},
        "primaryUpdateMethod": {"enum": ["switchover", "restart"]},
        "enablePDB": _BOOL,
        "enableSuperuserAccess": _BOOL,
        "superuserSecret": _NAME_REF,
        "startDelay": _INT,
        "stopDelay": _INT,
        "smartShutdownTimeout": _INT,
        "switchoverDelay": _INT,
        "failoverDelay": _INT,
        "logLevel": {"enum": ["error", "warning", "info", "debug", "trace"]},
        "minSyncReplicas": _INT,
        "maxSyncReplicas": _INT,
        "priorityClassName": _STR,
        "resources": _RESOURCES,
        "affinity": _closed(
            {
                "enablePodAntiAffinity": _BOOL,
                "podAntiAffinityType": {"enum": ["preferred", "required"]},
                "topologyKey": _STR,
                "nodeSelector": _STR_MAP,
                "tolerations": {"type": "array", "items": _ANY_OBJECT},
                "nodeAffinity": _ANY_OBJECT,
                "additionalPodAffinity": _ANY_OBJECT,
                "additionalPodAntiAffinity": _ANY_OBJECT,
            }
        ),
        "topologySpreadConstraints": {"type": "array", "items": _ANY_OBJECT},
        "storage": _closed(
            {
                "size": _STR,
                "storageClass": _STR,
                "resizeInUseVolumes": _BOOL,
                "pvcTemplate": _ANY_OBJECT,
            }
        ),
        "walStorage": _closed({"size": _STR, "storageClass": _STR, "pvcTemplate": _ANY_OBJECT}),
        "bootstrap": _closed(
            {
                "initdb": _closed(
                    {
                        "database": _STR,
                        "owner": _STR,
                        "secret": _NAME_REF,
                        "dataChecksums": _BOOL,
                        "encoding": _STR,
                        "localeCollate": _STR,
                        "localeCType": _STR,
                        "postInitSQL": {"type": "array", "items": _STR},
                        "postInitApplicationSQL": {"type": "array", "items": _STR},
                        "postInitTemplateSQL": {"type": "array", "items": _STR},
                    }
                ),
                "recovery": _ANY_OBJECT,
                "pg_basebackup": _ANY_OBJECT,
            }
        ),
        "postgresql": _closed(
            {
                "parameters": _STR_MAP,
                "pg_hba": {"type": "array", "items": _STR},
                "pg_ident": {"type": "array", "items": _STR},
                "shared_preload_libraries": {"type": "array", "items": _STR},
                "enableAlterSystem": _BOOL,
                "synchronous": _ANY_OBJECT,
            }
        ),
        "monitoring": _closed(
            {
                "enablePodMonitor": _BOOL,
                "disableDefaultQueries": _BOOL,
                "customQueriesConfigMap": {"type": "array", "items": _KEY_REF},
                "customQueriesSecret": {"type": "array", "items": _KEY_REF},
                "podMonitorRelabelings": _RELABELINGS,
                "podMonitorMetricRelabelings": _RELABELINGS,
            }
        ),
        "backup": _ANY_OBJECT,
        "managed": _ANY_OBJECT,
        "certificates": _ANY_OBJECT,
        "env": {"type": "array", "items": _ANY_OBJECT},
        "envFrom": {"type": "array", "items": _ANY_OBJECT},
        "serviceAccountTemplate": _ANY_OBJECT,
        "seccompProfile": _ANY_OBJECT,
        "podSecurityContext": _ANY_OBJECT,
        "securityContext": _ANY_OBJECT,
        "probes": _ANY_OBJECT,
        "plugins": {"type": "array", "items": _ANY_OBJECT},
    },
    ("instances", "storage"),
)

_PROMETHEUS_RULE_SPEC = _closed(
    {
        "groups": {
            "type": "array",
            "items": _closed(
                {
                    "name": _STR,
                    "interval": _STR,
                    "limit": _INT,
                    "query_offset": _STR,
                    "labels": _STR_MAP,
                    "rules": {
                        "type": "array",
                        "items": _closed(
                            {
                                "record": _STR,
                                "alert": _STR,
                                "expr": {"type": ["string", "integer"]},
                                "for": _STR,
                                "keep_firing_for": _STR,
                                "labels": _STR_MAP,
                                "annotations": _STR_MAP,
                            },
                            ("expr",),
                        ),
                    },
                },
                ("name", "rules"),
            ),
        }
    },
    ("groups",),
)

_EXTERNAL_SECRET_SPEC = _closed(
    {
        "secretStoreRef": _closed(
            {"name": _STR, "kind": {"enum": ["SecretStore", "ClusterSecretStore"]}}, ("name",)
        ),
        "target": _closed(
            {
                "name": _STR,
                "creationPolicy": {"enum": ["Owner", "Orphan", "Merge", "None"]},
                "deletionPolicy": {"enum": ["Delete", "Merge", "Retain"]},
                "immutable": _BOOL,
                "template": _ANY_OBJECT,
            }
        ),
        "refreshInterval": _STR,
        "refreshPolicy": {"enum": ["CreatedOnce", "Periodic", "OnChange"]},
        "data": {
            "type": "array",
            "items": _closed(
                {
                    "secretKey": _STR,
                    "remoteRef": _closed(
                        {
                            "key": _STR,
                            "property": _STR,
                            "version": _STR,
                            "conversionStrategy": _STR,
                            "decodingStrategy": _STR,
                            "metadataPolicy": _STR,
                        },
                        ("key",),
                    ),
                    "sourceRef": _ANY_OBJECT,
                },
                ("secretKey", "remoteRef"),
            ),
        },
        "dataFrom": {"type": "array", "items": _ANY_OBJECT},
    }
)
_SECRET_STORE_SPEC = _closed(
    {
        "provider": {"type": "object", "minProperties": 1, "maxProperties": 1},
        "controller": _STR,
        "refreshInterval": _INT,
        "retrySettings": _ANY_OBJECT,
        "conditions": {"type": "array", "items": _ANY_OBJECT},
    },
    ("provider",),
)


def _resource(spec: dict[str, Any]) -> dict[str, Any]:
    """A whole custom resource: apiVersion, kind, metadata (checked elsewhere) and spec."""
    return _closed(
        {"apiVersion": _STR, "kind": _STR, "metadata": _ANY_OBJECT, "spec": spec},
        ("apiVersion", "kind", "metadata", "spec"),
    )


# (apiVersion, kind) -> schema. Only these custom resources may appear in a render.
CUSTOM_RESOURCE_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("postgresql.cnpg.io/v1", "Cluster"): _resource(_CNPG_CLUSTER_SPEC),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): _resource(
        _closed(
            {
                **_MONITOR_COMMON,
                "targetLabels": {"type": "array", "items": _STR},
                "endpoints": {"type": "array", "items": _closed(_SCRAPE_ENDPOINT)},
            },
            ("selector", "endpoints"),
        )
    ),
    ("monitoring.coreos.com/v1", "PodMonitor"): _resource(
        _closed(
            {
                **_MONITOR_COMMON,
                "podMetricsEndpoints": {
                    "type": "array",
                    "items": _closed({**_SCRAPE_ENDPOINT, "portNumber": _INT}),
                },
            },
            ("selector", "podMetricsEndpoints"),
        )
    ),
    ("monitoring.coreos.com/v1", "PrometheusRule"): _resource(_PROMETHEUS_RULE_SPEC),
    ("external-secrets.io/v1", "ExternalSecret"): _resource(_EXTERNAL_SECRET_SPEC),
    ("external-secrets.io/v1", "SecretStore"): _resource(_SECRET_STORE_SPEC),
    ("external-secrets.io/v1", "ClusterSecretStore"): _resource(_SECRET_STORE_SPEC),
}
