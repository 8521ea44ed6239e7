module meetings-operator/tools/pause

go 1.26.0
