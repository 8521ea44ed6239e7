{{/* The Service receiving Meetings callbacks. */}}
{{- define "meetings-operator.callbacksServiceName" -}}
{{- printf "%s-callbacks" (include "meetings-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Secret in which the operator keeps its generated callback token. */}}
{{- define "meetings-operator.callbackTokenSecretName" -}}
{{- printf "%s-callback-token" (include "meetings-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
