{{/* The chart name, or nameOverride. */}}
{{- define "meetings-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name of the release's objects, at most 63 characters. */}}
{{- define "meetings-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Cluster-scoped objects carry the namespace, so that releases of the same name in different namespaces do not collide. */}}
{{- define "meetings-operator.clusterName" -}}
{{- printf "%s-%s" (include "meetings-operator.fullname" .) .Release.Namespace }}
{{- end }}

{{- define "meetings-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "meetings-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meetings-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The labels of every object: the chart's, then commonLabels (the chart's win on a clash). */}}
{{- define "meetings-operator.labels" -}}
{{- $chart := dict
  "helm.sh/chart" (include "meetings-operator.chart" .)
  "app.kubernetes.io/version" (include "meetings-operator.tag" .)
  "app.kubernetes.io/component" "operator"
  "app.kubernetes.io/part-of" "meetings-operator"
  "app.kubernetes.io/managed-by" .Release.Service }}
{{- $chart = merge $chart (include "meetings-operator.selectorLabels" . | fromYaml) }}
{{- include "meetings-operator.withCommonLabels" (list . $chart) }}
{{- end }}

{{/* (list $ labels): labels merged over commonLabels, as YAML. */}}
{{- define "meetings-operator.withCommonLabels" -}}
{{- $ctx := index . 0 }}
{{- merge (index . 1) (deepCopy ($ctx.Values.commonLabels | default dict)) | toYaml }}
{{- end }}

{{- define "meetings-operator.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* repository@digest when image.digest is set, otherwise repository:tag. */}}
{{- define "meetings-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "meetings-operator.tag" .) }}
{{- end }}
{{- end }}

{{- define "meetings-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "meetings-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "meetings-operator.leaseName" -}}
{{- default (include "meetings-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{- define "meetings-operator.metricsServiceName" -}}
{{- printf "%s-metrics" (include "meetings-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The name of the default credentials Secret, or "" when there is none. */}}
{{- define "meetings-operator.credentialsSecretName" -}}
{{- $c := .Values.credentials }}
{{- if $c.existingSecret }}
{{- $c.existingSecret }}
{{- else if or $c.applicationId $c.privateKey }}
{{- printf "%s-credentials" (include "meetings-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Fails on combinations of values the schema cannot express. */}}
{{- define "meetings-operator.validate" -}}
{{- $c := .Values.credentials }}
{{- if and $c.existingSecret (or $c.applicationId $c.privateKey) }}
{{- fail "credentials: set either existingSecret or applicationId and privateKey, not both" }}
{{- end }}
{{- if and (not $c.existingSecret) (or $c.applicationId $c.privateKey) (not (and $c.applicationId $c.privateKey)) }}
{{- fail "credentials: applicationId and privateKey must be set together" }}
{{- end }}
{{- if and .Values.caBundle.configMap .Values.caBundle.secret }}
{{- fail "caBundle: set either configMap or secret, not both" }}
{{- end }}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicas > 1 needs leaderElection.enabled: true (otherwise every replica would reconcile)" }}
{{- end }}
{{- end }}

{{/* Where the CA bundle (caBundle) is mounted, and its file. */}}
{{- define "meetings-operator.caBundleDir" -}}
/etc/meetings-operator/ca
{{- end }}

{{- define "meetings-operator.caBundleFile" -}}
{{- printf "%s/ca-bundle.crt" (include "meetings-operator.caBundleDir" .) }}
{{- end }}
