{{/*
Naming. Every name is cut to 63 characters (the DNS label limit Kubernetes enforces on names and
label values) and loses a trailing "-" the cut may leave.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release-scoped base name: fullnameOverride, else "<release>-<chart>" unless the release name already contains the chart name. */}}
{{- define "sluice.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<suffix>" with the fullname shortened first so the suffix always survives the cut. */}}
{{- define "sluice.componentName" -}}
{{- $suffix := index . 1 -}}
{{- $base := include "sluice.fullname" (index . 0) | trunc (int (sub 62 (len $suffix))) | trimSuffix "-" -}}
{{- printf "%s-%s" $base $suffix -}}
{{- end -}}

{{- define "sluice.operator.fullname" -}}
{{- include "sluice.componentName" (list . "operator") -}}
{{- end -}}

{{- define "sluice.dataplane.fullname" -}}
{{- include "sluice.componentName" (list . "dataplane") -}}
{{- end -}}

{{/* The operator's metrics Service (the ServiceMonitor's target; its name is the Prometheus job). */}}
{{- define "sluice.operator.metricsServiceName" -}}
{{- include "sluice.componentName" (list . "operator-metrics") -}}
{{- end -}}

{{/* The operator's Role (and RoleBinding) in each watched namespace. */}}
{{- define "sluice.operator.watchRoleName" -}}
{{- include "sluice.componentName" (list . "operator-watch") -}}
{{- end -}}

{{/* The ConfigMap the operator renders the dataplane config into and the dataplane mounts. */}}
{{- define "sluice.dataplane.configMapName" -}}
{{- default (include "sluice.componentName" (list . "dataplane-config")) .Values.dataplane.configMapName -}}
{{- end -}}

{{/* The Secret the operator renders credentials and API key hashes into. */}}
{{- define "sluice.dataplane.secretName" -}}
{{- default (include "sluice.componentName" (list . "dataplane-secrets")) .Values.dataplane.secretName -}}
{{- end -}}

{{/* The ConfigMap with the chart-managed part of the dataplane config (server and store sections). */}}
{{- define "sluice.dataplane.baseConfigName" -}}
{{- include "sluice.componentName" (list . "dataplane-base") -}}
{{- end -}}

{{/* The Secret holding the Redis password: the user's existing one, or the one the chart creates. */}}
{{- define "sluice.redis.secretName" -}}
{{- default (include "sluice.componentName" (list . "redis")) .Values.redis.existingSecret -}}
{{- end -}}

{{- define "sluice.redis.passwordKey" -}}
{{- if .Values.redis.existingSecret -}}{{ .Values.redis.existingSecretPasswordKey }}{{- else -}}password{{- end -}}
{{- end -}}

{{/* True ("true") when the dataplane should read a Redis password file. */}}
{{- define "sluice.redis.hasPassword" -}}
{{- if and .Values.redis.url (or .Values.redis.existingSecret .Values.redis.password) -}}true{{- end -}}
{{- end -}}

{{- define "sluice.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (include "sluice.operator.fullname" .) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sluice.dataplane.serviceAccountName" -}}
{{- if .Values.dataplane.serviceAccount.create -}}
{{- default (include "sluice.dataplane.fullname" .) .Values.dataplane.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.dataplane.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Labels. Selector labels never change across upgrades (a Deployment's selector is immutable), so
they hold only name, instance and component; version labels go in the full set.
*/}}
{{- define "sluice.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sluice.labels" -}}
helm.sh/chart: {{ include "sluice.chart" . }}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sluice
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "sluice.operator.labels" -}}
{{ include "sluice.labels" . }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "sluice.operator.selectorLabels" -}}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "sluice.dataplane.labels" -}}
{{ include "sluice.labels" . }}
app.kubernetes.io/component: dataplane
{{- end -}}

{{- define "sluice.dataplane.selectorLabels" -}}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/component: dataplane
{{- end -}}

{{/*
Images: "repository@digest" when a digest is pinned, else "repository:tag" with the tag defaulting
to the chart's appVersion, so a chart release always names the matching images.
*/}}
{{- define "sluice.image" -}}
{{- $image := index . 0 -}}
{{- $root := index . 1 -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default $root.Chart.AppVersion $image.tag | toString) -}}
{{- end -}}
{{- end -}}

{{/*
ArgoCD sync waves: CRDs (-10, in the crds subchart) before RBAC and config (-5), before the operator
(0) and the dataplane (1), so resources never reference a kind or account that does not exist yet.
*/}}
{{- define "sluice.syncWave" -}}
argocd.argoproj.io/sync-wave: {{ . | quote }}
{{- end -}}

{{/* The namespaces the operator watches: its own list, or "" for all namespaces. */}}
{{/*
Namespaces whose Secrets the operator may read (by name), as a JSON list: operator.secretNamespaces,
else the watched namespaces, else only the release namespace.
*/}}
{{- define "sluice.operator.secretNamespaces" -}}
{{- $ns := .Values.operator.secretNamespaces | default .Values.operator.watchNamespaces | default (list .Release.Namespace) -}}
{{- $ns | uniq | toJson -}}
{{- end -}}

{{- define "sluice.operator.watchesAll" -}}
{{- if not .Values.operator.watchNamespaces -}}true{{- end -}}
{{- end -}}

{{/* True when the cluster serves the Prometheus Operator's monitoring.coreos.com/v1 API. */}}
{{- define "sluice.hasPrometheusOperator" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" -}}true{{- end -}}
{{- end -}}

{{/* topologySpreadConstraints with the component's selector filled in where the user gave none. */}}
{{- define "sluice.topologySpread" -}}
{{- $out := list -}}
{{- range $c := index . 0 -}}
{{- $c = deepCopy $c -}}
{{- if not (hasKey $c "labelSelector") -}}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (index $ 1)) -}}
{{- end -}}
{{- $out = append $out $c -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}
