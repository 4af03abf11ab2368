package spec

// The extract is regenerated from AWS's resource specification as published in the npm package
// @aws-cdk/aws-service-spec, pinned to one version so that regenerating gives the same bytes.
//go:generate go run ./internal/gen -package @aws-cdk/aws-service-spec -version 0.1.216 -namespaces AWS::EC2,AWS::Route53,AWS::Route53Resolver,AWS::Logs,AWS::IAM,AWS::ElasticLoadBalancingV2,AWS::SecretsManager,AWS::CloudWatch,AWS::SSM -out spec.json.gz
