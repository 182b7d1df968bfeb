output "instance_id" {
  description = "EC2 instance id of the scanner host."
  value       = aws_instance.scanner.id
}

output "private_ip" {
  description = "Private address: Ansible's ansible_host and Prometheus's scrape address."
  value       = aws_instance.scanner.private_ip
}

output "security_group_id" {
  description = "Security group of the scanner host (reference it to admit more sources)."
  value       = aws_security_group.scanner.id
}

output "ami_id" {
  description = "The AMI the host booted."
  value       = aws_instance.scanner.ami
}

output "inventory" {
  description = "The host's entry for ansible/inventories/<env>/hosts.yml (group scanner)."
  value = {
    (var.name) = {
      ansible_host       = aws_instance.scanner.private_ip
      srp_scrape_address = aws_instance.scanner.private_ip
    }
  }
}
